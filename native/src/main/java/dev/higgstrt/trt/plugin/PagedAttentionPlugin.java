package dev.higgstrt.trt.plugin;

import dev.higgstrt.trt.tensorrt.TrtException;

import com.sun.jna.Library;
import com.sun.jna.Native;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.nvinfer.IPluginCreatorV3One;
import org.bytedeco.tensorrt.nvinfer.IPluginV3;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The paged-attention TensorRT plugin ({@code HiggsPagedAttention}, version 1, namespace {@code
 * higgs_trt}), in the same library as the {@link DualFfnPlugin}: causal GQA self-attention of
 * packed tokens over a KV cache in fixed-size blocks that the runtime owns. RoPE is applied on the
 * device from each token's position, and the new keys and values are written in place into the
 * cache, so no rotary table, attention bias or copy of the past crosses from the host.
 *
 * <p>Inputs: {@code q} [T, nH*d], {@code kv} [T, 2*nKV*d], positions and block-table rows
 * (INT32 [T] each), the block tables INT32 [S, M], the inverse frequencies FLOAT [d/2], and the
 * layer's cache [N, 2, nKV, B, d]; output [T, nH*d]. With {@link Geometry#fusedQkv()} one input
 * {@code qkv} [T, (nH+2*nKV)*d] takes the place of {@code q} and {@code kv}. Thread-safe.
 */
public final class PagedAttentionPlugin {
    static final String NAME = "HiggsPagedAttention";

    /** The library's paged-attention entry points. */
    interface Lib extends Library {
        com.sun.jna.Pointer higgs_paged_attention_creator();

        int higgs_paged_attention_last_error(byte[] message, int capacity);

        void higgs_paged_attention_clear_error();

        long higgs_paged_attention_live_plugins();

        long higgs_paged_attention_enqueues();

        int higgs_paged_attention_max_group();

        int higgs_paged_attention_max_head_dim();

        int higgs_paged_attention_set_decode_kernel(int on);

        int higgs_paged_attention_set_decode_wide(int on);

        int higgs_paged_attention_set_decode_cluster(int splits);
    }

    private static PagedAttentionPlugin instance;

    private final Lib lib;
    private final IPluginCreatorV3One creator;

    private PagedAttentionPlugin(Lib lib, IPluginCreatorV3One creator) {
        this.lib = lib;
        this.creator = creator;
    }

    /**
     * The loaded and registered plugin.
     *
     * @return the plugin
     * @throws TrtException where the plugin library is unavailable ({@link DualFfnPlugin#unavailableReason()})
     *                      or TensorRT refuses the registration
     */
    public static synchronized PagedAttentionPlugin get() {
        if (instance == null) {
            Lib lib = Native.load(DualFfnPlugin.get().library().toString(), Lib.class);
            IPluginCreatorV3One creator = PluginFields.creatorAt(lib.higgs_paged_attention_creator());
            if (creator.isNull() || !NAME.equals(creator.getPluginName())) {
                throw new TrtException("the plugin library carries no " + NAME + " plugin");
            }
            if (!nvinfer.getPluginRegistry().registerCreator(creator, DualFfnPlugin.NAMESPACE)) {
                throw new TrtException("TensorRT refused to register the plugin creator " + NAME);
            }
            instance = new PagedAttentionPlugin(lib, creator);
        }
        return instance;
    }

    /**
     * The shapes one plugin instance serves, and how its callers pack tokens.
     *
     * @param heads       query heads
     * @param kvHeads     key/value heads (dividing {@code heads})
     * @param headDim     the head dimension (even)
     * @param blockSize   positions a KV block holds
     * @param consecutive the callers promise that each sequence's tokens of a call lie together in
     *                    the packing at consecutive positions, as {@code PagedDecoder} packs them: a
     *                    call of one sequence then runs the tensor-core prefill kernel alone, with no
     *                    per-token grid to find the tiles it leaves. A call that breaks the promise
     *                    gets wrong attention, so leave it false for any other packing.
     * @param fusedQkv    the plugin takes one input {@code qkv} [T, (nH+2*nKV)*d], each token's
     *                    query, key and value heads in one row as one projection GEMM writes them,
     *                    in place of {@code q} and {@code kv}: six inputs instead of seven
     */
    public record Geometry(int heads, int kvHeads, int headDim, int blockSize, boolean consecutive, boolean fusedQkv) {
        /**
         * A geometry without the promise of consecutive runs, q and kv apart.
         *
         * @param heads     query heads
         * @param kvHeads   key/value heads
         * @param headDim   the head dimension
         * @param blockSize positions a KV block holds
         */
        public Geometry(int heads, int kvHeads, int headDim, int blockSize) {
            this(heads, kvHeads, headDim, blockSize, false, false);
        }
    }

    /**
     * A plugin instance for one layer; the caller owns it (delete after the build).
     *
     * @param name     the layer's name
     * @param geometry its heads and blocks
     * @return the instance
     * @throws TrtException naming what the plugin refused
     */
    public IPluginV3 create(String name, Geometry geometry) {
        if (geometry.heads() / Math.max(1, geometry.kvHeads()) > lib.higgs_paged_attention_max_group()
                || geometry.headDim() > lib.higgs_paged_attention_max_head_dim()) {
            throw new TrtException("paged attention supports up to " + lib.higgs_paged_attention_max_group()
                    + " query heads per kv head and head_dim up to " + lib.higgs_paged_attention_max_head_dim() + ", got " + geometry);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fields = PluginFields.of(arena,
                    PluginFields.field(arena, "num_heads", arena.allocateFrom(ValueLayout.JAVA_INT, geometry.heads()), PluginFields.INT32),
                    PluginFields.field(arena, "num_kv_heads", arena.allocateFrom(ValueLayout.JAVA_INT, geometry.kvHeads()), PluginFields.INT32),
                    PluginFields.field(arena, "head_dim", arena.allocateFrom(ValueLayout.JAVA_INT, geometry.headDim()), PluginFields.INT32),
                    PluginFields.field(arena, "block_size", arena.allocateFrom(ValueLayout.JAVA_INT, geometry.blockSize()), PluginFields.INT32),
                    PluginFields.field(arena, "consecutive", arena.allocateFrom(ValueLayout.JAVA_INT, geometry.consecutive() ? 1 : 0),
                            PluginFields.INT32),
                    PluginFields.field(arena, "fused_qkv", arena.allocateFrom(ValueLayout.JAVA_INT, geometry.fusedQkv() ? 1 : 0),
                            PluginFields.INT32));
            lib.higgs_paged_attention_clear_error();
            return PluginFields.create(creator, name, fields, "paged-attention", this::lastError);
        }
    }

    /**
     * The plugin's last error message, empty when none.
     *
     * @return the message
     */
    public String lastError() {
        return PluginFields.lastError(lib::higgs_paged_attention_last_error);
    }

    /**
     * " (paged-attention plugin: message)" when the loaded plugin has an error to report, else "".
     *
     * @return a note for messages
     */
    public static synchronized String errorNote() {
        return instance == null ? "" : PluginFields.errorNote("paged-attention", instance.lastError());
    }

    /**
     * Plugin objects alive in this process.
     *
     * @return the count
     */
    public long livePlugins() {
        return lib.higgs_paged_attention_live_plugins();
    }

    /**
     * Calls run in this process so far (one per layer per engine call).
     *
     * @return the count
     */
    public long enqueues() {
        return lib.higgs_paged_attention_enqueues();
    }

    /**
     * Whether decode calls of few tokens (every sequence of the call decoding one token, each
     * token's keys over at least 4 blocks) take the kernel with lanes over the head dimension (on
     * by default; {@code HIGGS_TRT_DECODE_KERNEL=0} starts it off) or the per-token kernel, for the
     * enqueues that follow. A CUDA graph keeps the kernel it was captured with.
     *
     * @param on whether to take it
     * @return the previous setting
     */
    public boolean setDecodeKernel(boolean on) {
        return lib.higgs_paged_attention_set_decode_kernel(on ? 1 : 0) != 0;
    }

    /**
     * Whether that kernel runs in blocks of 512 threads (16 warps hiding each other's latencies)
     * where all of a call's blocks fit on the GPU at once, with as many splits of each token's keys
     * as fit, or always in blocks of 128 (on by default; {@code HIGGS_TRT_DECODE_WIDE=0} starts it
     * off), for the enqueues that follow.
     *
     * @param on whether to take the wide blocks where they fit
     * @return the previous setting
     */
    public boolean setDecodeWide(boolean on) {
        return lib.higgs_paged_attention_set_decode_wide(on ? 1 : 0) != 0;
    }

}
