package dev.higgstrt.trt.plugin;

import dev.higgstrt.trt.cuda.GpuEnvironment;
import dev.higgstrt.trt.tensorrt.TrtException;

import com.sun.jna.Library;
import com.sun.jna.Native;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.nvinfer.IPluginCreatorV3One;
import org.bytedeco.tensorrt.nvinfer.IPluginV3;
import org.bytedeco.tensorrt.nvinfer.PluginFieldCollection;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The dual-FFN TensorRT plugin ({@code HiggsDualFfn}, version 1, namespace {@code higgs_trt}): a
 * C++/CUDA library built by the native module's Maven build with nvcc and carried in its jar. It is
 * loaded with JNA and its creator is registered with TensorRT's plugin registry once per process,
 * which serialized engines that use it also need.
 *
 * <p>The library is looked up at the path in the system property {@code higgs.trt.plugin} or the
 * environment variable {@code HIGGS_TRT_PLUGIN}, else in the jar. It loads cuBLAS 12 or 13 at run
 * time ({@code HIGGS_TRT_CUBLAS} names it where the loader does not find it). Thread-safe.
 */
public final class DualFfnPlugin {
    /** The plugin's name in the TensorRT registry. */
    public static final String NAME = "HiggsDualFfn";
    /** The plugin's version. */
    public static final String VERSION = "1";
    /** The registry namespace. */
    public static final String NAMESPACE = "higgs_trt";

    static final java.util.List<String> FIELDS = java.util.List.of("hidden_size", "intermediate_size", "eps", "residual");

    static final String RESOURCE = "/dev/higgstrt/trt/linux-x86_64/libhiggs_dual_ffn.so";

    /** The plugin library's C entry points. */
    interface Lib extends Library {
        com.sun.jna.Pointer higgs_dual_ffn_creator();

        int higgs_dual_ffn_init(byte[] message, int capacity);

        int higgs_dual_ffn_last_error(byte[] message, int capacity);

        void higgs_dual_ffn_clear_error();

        int higgs_dual_ffn_method_count();

        String higgs_dual_ffn_method_name(int method);

        long higgs_dual_ffn_calls(int method);

        long higgs_dual_ffn_live_plugins();

        int higgs_dual_ffn_small_tokens();

        long higgs_dual_ffn_batched_gemms();

        int higgs_set_dependent_launch(int mask);

        void higgs_dual_ffn_destroy(com.sun.jna.Pointer plugin);
    }

    private static DualFfnPlugin instance;
    private static String unavailable;

    private final Lib lib;
    private final IPluginCreatorV3One creator;
    private final Path library;

    private DualFfnPlugin(Lib lib, IPluginCreatorV3One creator, Path library) {
        this.lib = lib;
        this.creator = creator;
        this.library = library;
    }

    /**
     * The loaded and registered plugin.
     *
     * @throws TrtException when the library is missing (built without nvcc), cannot be loaded,
     *                      finds no cuBLAS, or TensorRT refuses the registration
     * @return the loaded and registered plugin
     */
    public static synchronized DualFfnPlugin get() {
        if (instance != null) {
            return instance;
        }
        if (unavailable != null) {
            throw new TrtException(unavailable);
        }
        try {
            instance = load();
            return instance;
        } catch (TrtException e) {
            unavailable = e.getMessage();
            throw e;
        }
    }

    /**
     * Whether the plugin can be used here; {@link #unavailableReason()} says why not.
     *
     * @return whether the plugin can be used here; {@link #unavailableReason()} says why not
     */
    public static boolean isAvailable() {
        return unavailableReason().isEmpty();
    }

    /**
     * Why the plugin cannot be used here, or empty where it can.
     *
     * @return why the plugin cannot be used here, or empty where it can
     */
    public static Optional<String> unavailableReason() {
        try {
            get();
            return Optional.empty();
        } catch (TrtException e) {
            return Optional.of(e.getMessage());
        }
    }

    private static DualFfnPlugin load() {
        GpuEnvironment env = GpuEnvironment.probe();
        if (!env.usable()) {
            throw new TrtException("the dual-FFN plugin needs a GPU and TensorRT: " + env.missing());
        }
        Path path = locate();
        Lib lib;
        try {
            lib = Native.load(path.toString(), Lib.class);
        } catch (UnsatisfiedLinkError e) {
            throw new TrtException("dual-FFN plugin " + path + " could not be loaded: " + e.getMessage());
        }
        byte[] message = new byte[1024];
        if (lib.higgs_dual_ffn_init(message, message.length) != 0) {
            throw new TrtException("dual-FFN plugin: " + PluginFields.cString(message));
        }
        IPluginCreatorV3One creator = PluginFields.creatorAt(lib.higgs_dual_ffn_creator());
        if (creator.isNull() || !NAME.equals(creator.getPluginName()) || !FIELDS.equals(fieldNames(creator))) {
            throw new TrtException("dual-FFN plugin " + path + " is not the version this jar expects ("
                    + (creator.isNull() ? "no creator" : creator.getPluginName() + " with fields " + fieldNames(creator)) + ")");
        }
        if (!nvinfer.getPluginRegistry().registerCreator(creator, NAMESPACE)) {
            throw new TrtException("TensorRT refused to register the dual-FFN plugin creator " + NAME + " " + VERSION);
        }
        return new DualFfnPlugin(lib, creator, path);
    }

    private static java.util.List<String> fieldNames(IPluginCreatorV3One creator) {
        PluginFieldCollection fc = creator.getFieldNames();
        java.util.List<String> names = new java.util.ArrayList<>();
        if (fc != null && !fc.isNull()) {
            MemorySegment fields = MemorySegment.ofAddress(fc.fields().address())
                    .reinterpret(PluginFields.FIELD.byteSize() * fc.nbFields());
            for (int i = 0; i < fc.nbFields(); i++) {
                MemorySegment name = fields.get(ValueLayout.ADDRESS, i * PluginFields.FIELD.byteSize());
                names.add(name.reinterpret(256).getString(0));
            }
        }
        return names;
    }

    private static Path locate() {
        String configured = System.getProperty("higgs.trt.plugin", System.getenv("HIGGS_TRT_PLUGIN"));
        if (configured != null && !configured.isBlank()) {
            Path p = Path.of(configured);
            if (!Files.isRegularFile(p)) {
                throw new TrtException("dual-FFN plugin library " + p + " (higgs.trt.plugin / HIGGS_TRT_PLUGIN) does not exist");
            }
            return p;
        }
        URL url = DualFfnPlugin.class.getResource(RESOURCE);
        if (url == null) {
            throw new TrtException("this higgs-trt-native build carries no dual-FFN plugin (it was built without nvcc); "
                    + "rebuild with CUDA's nvcc on the PATH, or set higgs.trt.plugin to a built libhiggs_dual_ffn.so");
        }
        try {
            if ("file".equals(url.getProtocol())) {
                return Path.of(url.toURI());
            }
            Path dir = Files.createTempDirectory("higgs-trt-plugin");
            Path file = dir.resolve("libhiggs_dual_ffn.so");
            try (InputStream in = url.openStream()) {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            }
            file.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            return file;
        } catch (IOException | URISyntaxException e) {
            throw new TrtException("dual-FFN plugin could not be extracted from the jar: " + e);
        }
    }

    /**
     * The library file in use.
     *
     * @return the library file in use
     */
    public Path library() {
        return library;
    }

    /**
     * Creates a plugin instance for a layer of {@code hidden} width and {@code intermediate} FFN
     * width; without {@code residual} its output is the FFN alone (a tensor-parallel partial sum).
     * The caller owns it: {@link #destroy(IPluginV3)} after the network is built.
     *
     * @param name         the name
     * @param hidden       the hidden
     * @param intermediate the intermediate
     * @param eps          the eps
     * @param residual     the residual
     * @return a plugin instance for a layer of {@code hidden} width and {@code intermediate} FFN width; without {@code residual} its output is the FFN alone (a tensor-parallel partial sum)
     */
    public IPluginV3 create(String name, int hidden, int intermediate, float eps, boolean residual) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment h = arena.allocateFrom(ValueLayout.JAVA_INT, hidden);
            MemorySegment i = arena.allocateFrom(ValueLayout.JAVA_INT, intermediate);
            MemorySegment e = arena.allocateFrom(ValueLayout.JAVA_FLOAT, eps);
            MemorySegment r = arena.allocateFrom(ValueLayout.JAVA_INT, residual ? 1 : 0);
            MemorySegment fields = PluginFields.of(arena,
                    PluginFields.field(arena, "hidden_size", h, PluginFields.INT32),
                    PluginFields.field(arena, "intermediate_size", i, PluginFields.INT32),
                    PluginFields.field(arena, "eps", e, PluginFields.FLOAT32),
                    PluginFields.field(arena, "residual", r, PluginFields.INT32));
            lib.higgs_dual_ffn_clear_error();
            return PluginFields.create(creator, name, fields, "dual-FFN", this::lastError);
        }
    }

    /**
     * Deletes a plugin instance returned by {@link #create}.
     *
     * @param plugin the plugin
     */
    public void destroy(IPluginV3 plugin) {
        if (plugin != null && !plugin.isNull()) {
            lib.higgs_dual_ffn_destroy(new com.sun.jna.Pointer(plugin.address()));
            plugin.setNull();
        }
    }

    /**
     * The plugin's last error message (empty when none), e.g. why a build failed.
     *
     * @return the plugin's last error message (empty when none), e.g
     */
    public String lastError() {
        return PluginFields.lastError(lib::higgs_dual_ffn_last_error);
    }

    /**
     * " (dual-FFN plugin: message)" when the loaded plugin has an error to report, else "".
     *
     * @return a note for messages: " (dual-FFN plugin: message)", or "" without an error
     */
    public static synchronized String errorNote() {
        return instance == null ? "" : PluginFields.errorNote("dual-FFN", instance.lastError());
    }

    /**
     * Forgets the library's last error message.
     */
    public void clearError() {
        lib.higgs_dual_ffn_clear_error();
    }

    /**
     * How often TensorRT called each plugin method in this process, by method name.
     *
     * @return how often TensorRT called each plugin method in this process, by method name
     */
    public Map<String, Long> calls() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (int m = 0; m < lib.higgs_dual_ffn_method_count(); m++) {
            out.put(lib.higgs_dual_ffn_method_name(m), lib.higgs_dual_ffn_calls(m));
        }
        return out;
    }

    /**
     * Plugin objects alive in this process (created and not yet destroyed, by us or TensorRT).
     *
     * @return the number of plugin objects alive
     */
    public long livePlugins() {
        return lib.higgs_dual_ffn_live_plugins();
    }

    /**
     * Up to this many tokens a call takes the direct path (no host round trip); more are compacted per path.
     *
     * @return the largest token count of the direct path
     */
    public int smallTokens() {
        return lib.higgs_dual_ffn_small_tokens();
    }

    /**
     * How many strided-batched cuBLAS GEMMs the many-token path has made in this process: the audio
     * path's gate and up in one call, and a path's down GEMM with its inner dimension in parts. Zero
     * where the loaded cuBLAS lacks {@code cublasGemmStridedBatchedEx} (the path then makes one GEMM
     * a matrix).
     *
     * @return the number of strided-batched GEMM calls so far
     */
    public long batchedGemms() {
        return lib.higgs_dual_ffn_batched_gemms();
    }

    /** {@link #setDependentLaunches} bit: the linear plugin's one-token kernel. */
    public static final int DEPENDENT_LINEAR = 1;
    /** {@link #setDependentLaunches} bit: the dual-FFN plugin's few-token gate/up and down kernels. */
    public static final int DEPENDENT_FFN = 2;
    /** {@link #setDependentLaunches} bit: the paged attention's one-kernel decode. */
    public static final int DEPENDENT_ATTENTION = 4;
    /**
     * {@link #setDependentLaunches} bit: the kernels between the cuBLAS GEMMs of many-token calls
     * (prefill, larger decode batches): the RMSNorms, path compaction (where the host gives no text
     * count), SiLU, scatter-add, K/V write and attention kernels.
     */
    public static final int DEPENDENT_MANY_TOKENS = 8;
    /**
     * {@link #setDependentLaunches} bit: the one-kernel decode attention lets the kernel after it
     * start at its own start rather than after its keys (its blocks are one wave), so that the
     * output projection's blocks may prefetch their weights into L2 while it runs
     * ({@code HIGGS_TRT_PREFETCH_MB}). Takes effect with {@link #DEPENDENT_ATTENTION}; not in
     * {@link #DEPENDENT_DEFAULT}: without the prefetch it changed nothing on the H200.
     */
    public static final int DEPENDENT_EARLY_ATTENTION = 16;
    /**
     * {@link #setDependentLaunches} bit: the one-token kernels (linear, gate/up, down) let the next
     * kernel start at their own start, and issue their first weight loads before they wait on the
     * kernel before (the decode attention its first keys), so that a kernel's weights stream while
     * the one before it finishes. Takes effect with each kernel's own bit.
     */
    public static final int DEPENDENT_EARLY_WEIGHTS = 32;
    /** {@link #setDependentLaunches} bits: all of them. */
    public static final int DEPENDENT_ALL = DEPENDENT_LINEAR | DEPENDENT_FFN | DEPENDENT_ATTENTION | DEPENDENT_MANY_TOKENS
            | DEPENDENT_EARLY_ATTENTION | DEPENDENT_EARLY_WEIGHTS;
    /**
     * {@link #setDependentLaunches} bits a process starts with: all but {@link #DEPENDENT_EARLY_ATTENTION}
     * and {@link #DEPENDENT_EARLY_WEIGHTS}.
     */
    public static final int DEPENDENT_DEFAULT = DEPENDENT_ALL & ~(DEPENDENT_EARLY_ATTENTION | DEPENDENT_EARLY_WEIGHTS);

    /**
     * Chooses which kernels of the library's plugins are launched as programmatic dependent
     * launches (Hopper) from the next enqueue on: such a kernel may be scheduled while the one before
     * it still runs, and waits on the device for its results. All but {@link #DEPENDENT_EARLY_ATTENTION}
     * and {@link #DEPENDENT_EARLY_WEIGHTS} by default ({@link #DEPENDENT_DEFAULT}): on the H200
     * they took about 0.2 ms off a batch-1 decode step of 2.8 ms, and the many-token ones 0.2 ms
     * off a 512-position prefill of 8 ({@code docs/performance.md});
     * {@code HIGGS_TRT_PDL=MASK} sets the mask a process starts with ({@code 0}: none). A CUDA
     * graph keeps the launches it was captured with.
     *
     * @param mask {@link #DEPENDENT_LINEAR}, {@link #DEPENDENT_FFN}, {@link #DEPENDENT_ATTENTION},
     *             {@link #DEPENDENT_MANY_TOKENS}, {@link #DEPENDENT_EARLY_ATTENTION} and
     *             {@link #DEPENDENT_EARLY_WEIGHTS}, or'd
     * @return the previous mask
     */
    public int setDependentLaunches(int mask) {
        return lib.higgs_set_dependent_launch(mask);
    }

}
