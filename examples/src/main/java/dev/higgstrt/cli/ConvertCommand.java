package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.quant.QuantFormat;
import dev.higgstrt.quant.ActivationStats;
import dev.higgstrt.quant.Calibration;
import dev.higgstrt.quant.QuantOptions;
import dev.higgstrt.quant.SmoothQuant;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.io.Json;
import dev.higgstrt.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code higgs-trt convert}: a Higgs Audio v2 checkpoint into the TensorRT-LLM checkpoint layout. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Convert a checkpoint into the TensorRT-LLM checkpoint layout.",
                "Reads a Higgs Audio v2 checkpoint (transformers or Boson layout) and writes a folder of config.json",
                "and rank{N}.safetensors for tp x pp ranks (docs/layout.md)."})
final class ConvertCommand implements Callable<Integer> {
    @Option(names = "--input", required = true, paramLabel = "DIR", description = "The source checkpoint folder.")
    Path input;

    @Option(names = "--output", paramLabel = "DIR", description = "The output folder (required unless --dry-run).")
    Path output;

    @Option(names = "--tp", defaultValue = "1", description = "Tensor-parallel size (default: ${DEFAULT-VALUE}).")
    int tp;

    @Option(names = "--pp", defaultValue = "1", description = "Pipeline-parallel size (default: ${DEFAULT-VALUE}).")
    int pp;

    @Option(names = "--dtype", defaultValue = "auto", description = "auto (keep), bfloat16, float16 or float32 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--dry-run", description = "Print the plan from config.json and the index only; read no shard.")
    boolean dryRun;

    @Option(names = "--json", description = "Print JSON.")
    boolean json;

    @Option(names = "--threads", description = "Ranks written at once (default: cores, at most 4).")
    Integer threads;

    @Option(names = "--quant", defaultValue = "none", paramLabel = "FORMAT",
            description = "Quantization: none, int8_wo (W8A16), int4_wo (W4A16), int4_group (W4A16_AWQ layout, "
                    + "no AWQ search), fp8 (per-tensor E4M3), sq (SmoothQuant W8A8, per-token activations), "
                    + "sq_per_tensor (SmoothQuant, static activation scales) (default: ${DEFAULT-VALUE}).")
    String quant;

    @Option(names = "--quant-exclude", paramLabel = "REGEX",
            description = "Keep weights whose converted name matches in float (repeatable), e.g. lm_head.")
    java.util.List<String> quantExclude = new java.util.ArrayList<>();

    @Option(names = "--quant-group", defaultValue = "128", paramLabel = "N",
            description = "Inputs per scale of int4_group (default: ${DEFAULT-VALUE}).")
    int quantGroup;

    @Option(names = "--sq-alpha", defaultValue = "0.5", paramLabel = "A",
            description = "SmoothQuant migration strength in (0, 1] (default: ${DEFAULT-VALUE}).")
    double sqAlpha;

    @Option(names = "--sq-fold-only",
            description = "Fold SmoothQuant's smoothing into the weights and write floats, nothing rounded (for verification).")
    boolean sqFoldOnly;

    @Option(names = "--calib", arity = "1..*", paramLabel = "FILE",
            description = "Calibration token files (the reference command's JSON format), run through the CPU reference: "
                    + "SmoothQuant's statistics, or fp8's static activation scales.")
    java.util.List<Path> calib = new java.util.ArrayList<>();

    @Option(names = "--calib-stats", paramLabel = "FILE",
            description = "Activation statistics (safetensors of per-channel maxima) instead of --calib.")
    Path calibStats;

    @Option(names = "--calib-percentile", defaultValue = "100", paramLabel = "P",
            description = "Clip static activation scales at this percentile of per-position maxima (default: ${DEFAULT-VALUE}).")
    double calibPercentile;

    @Option(names = "--save-stats", paramLabel = "FILE", description = "Also write the statistics from --calib to FILE.")
    Path saveStats;

    @Option(names = "--allow-nonfinite",
            description = "Convert weights that hold NaN or infinity as they are (by default they are refused, with a count).")
    boolean allowNonFinite;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        ConversionOptions o = ConversionOptions.of(tp, pp);
        if (!dtype.equalsIgnoreCase("auto")) {
            o = o.withDtype(DType.parse(dtype));
        }
        if (threads != null) {
            o = o.withThreads(threads);
        }
        if (allowNonFinite) {
            o = o.withNonFiniteAllowed();
        }
        QuantFormat format = QuantFormat.parse(quant);
        QuantOptions q = quantOptions(format);
        for (String regex : quantExclude) {
            q = q.excluding(regex);
        }
        o = o.withQuant(q);
        PrintWriter out = spec.commandLine().getOut();
        CliPaths.folder(input, "a checkpoint folder");
        if (dryRun) {
            Converter.Plan plan = Converter.plan(input, o);
            if (json) {
                out.println(Json.PRETTY.writeValueAsString(planJson(plan)));
            } else {
                for (Converter.RankPlan rp : plan.ranks()) {
                    out.printf("rank %d (tp rank %d, pp rank %d): %d tensors%n", rp.mapping().rank(), rp.mapping().tpRank(),
                            rp.mapping().ppRank(), rp.tensors().size());
                    rp.tensors().forEach((n, s) -> out.println("  " + n + " " + s.dtype().safetensorsName() + " " + s.shape()));
                }
                plan.notes().forEach(n -> out.println("note: " + n));
            }
            return 0;
        }
        if (output == null) {
            throw new IllegalArgumentException("--output is required (or use --dry-run)");
        }
        CliPaths.outputFolder(output, "the output folder");
        Converter.Plan plan = Converter.plan(input, o);
        Converter.Report report;
        try (ProgressBar bar = new ProgressBar(spec.commandLine().getErr(), plan.tensorBytes())) {
            report = Converter.convert(input, output, o, bar);
        }
        String types = report.plan().quant() == QuantFormat.NONE ? report.plan().dtype().torchName()
                : report.plan().quant().id() + " weights, " + report.plan().dtype().torchName() + " otherwise";
        if (json) {
            ObjectNode n = Json.PRETTY.createObjectNode();
            n.put("output", output.toString());
            n.put("tensors", report.plan().tensorCount());
            n.put("ranks", report.plan().ranks().size());
            n.put("tp", tp);
            n.put("pp", pp);
            n.put("bytes", report.bytes());
            n.put("file_bytes", report.fileBytes());
            n.put("seconds", report.seconds());
            n.put("dtype", report.plan().dtype().torchName());
            n.put("quant", report.plan().quant().id());
            var notes = n.putArray("notes");
            report.plan().notes().forEach(notes::add);
            out.println(Json.PRETTY.writeValueAsString(n));
        } else {
            report.plan().notes().forEach(n -> out.println("note: " + n));
            out.printf("converted %d tensors into %s (%s; tp %d, pp %d): %s written in %.2f s -> %s%n",
                    report.plan().tensorCount(), Sizes.count(report.plan().ranks().size(), "rank"), types, tp, pp,
                    Sizes.bytes(report.fileBytes()), report.seconds(), output);
        }
        return 0;
    }

    /** The quantization options: SmoothQuant's settings or FP8's activation calibration from the statistics given. */
    private QuantOptions quantOptions(QuantFormat format) throws java.io.IOException {
        if (sqFoldOnly && format != QuantFormat.NONE) {
            throw new IllegalArgumentException("--sq-fold-only writes floats: leave --quant at none");
        }
        boolean smoothing = format.isSmoothQuant() || sqFoldOnly;
        if (!smoothing && format != QuantFormat.FP8) {
            if (!calib.isEmpty() || calibStats != null) {
                throw new IllegalArgumentException("--calib and --calib-stats go with --quant sq, sq_per_tensor, fp8 or --sq-fold-only");
            }
            return new QuantOptions(format, java.util.List.of(), quantGroup);
        }
        java.util.Optional<ActivationStats> stats = stats(smoothing);
        if (format == QuantFormat.FP8) {
            return new QuantOptions(format, java.util.List.of(), quantGroup, java.util.Optional.empty(),
                    stats.map(s -> new Calibration(s, calibPercentile)));
        }
        if (stats.isEmpty()) {
            throw new IllegalArgumentException((format.isSmoothQuant() ? "--quant " + format.id() : "--sq-fold-only")
                    + " needs --calib FILE... or --calib-stats FILE");
        }
        return new QuantOptions(format, java.util.List.of(), quantGroup,
                java.util.Optional.of(new SmoothQuant.Settings(sqAlpha, stats.get(), calibPercentile)));
    }

    /**
     * Statistics from --calib-stats or a calibration over --calib. A dry run plans names only: it
     * calibrates nothing and, where statistics are {@code required}, plans with empty ones.
     */
    private java.util.Optional<ActivationStats> stats(boolean required) throws java.io.IOException {
        if (!calib.isEmpty() && calibStats != null) {
            throw new IllegalArgumentException("give --calib or --calib-stats, not both");
        }
        if (calibStats != null) {
            return java.util.Optional.of(ActivationStats.read(calibStats));
        }
        if (dryRun) {
            return required || !calib.isEmpty() ? java.util.Optional.of(ActivationStats.empty()) : java.util.Optional.empty();
        }
        if (!calib.isEmpty()) {
            java.util.List<TokenInput> inputs = new java.util.ArrayList<>();
            for (Path f : calib) {
                inputs.add(TokenInput.read(f));
            }
            spec.commandLine().getErr().printf("calibrating on %d inputs with the CPU reference...%n", inputs.size());
            ActivationStats stats;
            try (ReferenceModel model = ReferenceModel.load(input)) {
                stats = ActivationStats.collect(model, inputs);
            }
            if (saveStats != null) {
                stats.write(saveStats);
            }
            return java.util.Optional.of(stats);
        }
        return java.util.Optional.empty();
    }

    static ObjectNode planJson(Converter.Plan plan) {
        ObjectNode root = Json.PRETTY.createObjectNode();
        var ranks = root.putArray("ranks");
        for (Converter.RankPlan rp : plan.ranks()) {
            ObjectNode r = ranks.addObject();
            r.put("rank", rp.mapping().rank());
            ObjectNode tensors = r.putObject("tensors");
            rp.tensors().forEach((name, s) -> {
                ObjectNode t = tensors.putObject(name);
                t.put("dtype", s.dtype().safetensorsName());
                var shape = t.putArray("shape");
                for (long d : s.shape().toArray()) {
                    shape.add(d);
                }
            });
        }
        return root;
    }

}
