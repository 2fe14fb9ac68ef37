package dev.higgstrt.quant;

import com.fasterxml.jackson.databind.JsonNode;
import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.io.Json;
import dev.higgstrt.reference.Goldens;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Quantized conversions of the golden models: the files are what the plan says, config.json says
 * how they were quantized, and the reference forward of the dequantized model stays within each
 * format's documented logit error (docs/quantization.md).
 */
class QuantizedConversionTest {
    /** Documented bounds on max |logits(quantized) - logits(float)| / max |logits(float)| over the goldens. */
    static final Map<QuantFormat, Float> RELATIVE_BOUND = Map.of(
            QuantFormat.INT8_WO, 0.02f, QuantFormat.FP8, 0.08f, QuantFormat.INT4_WO, 0.35f, QuantFormat.INT4_GROUP, 0.25f);
    static final List<String> MODELS = List.of("gqa_llama3_texthead", "mha_default_rope", "mqa_three_layers", "wide_heads");

    @TempDir
    Path tmp;

    @Test
    void writtenRanksMatchThePlanAndTheConfigRecordsTheFormat() throws IOException {
        ConversionOptions o = ConversionOptions.of(2, 1).withDtype(DType.BF16)
                .withQuant(QuantOptions.of(QuantFormat.INT4_GROUP).withGroupSize(16).excluding("^lm_head"));
        Path out = tmp.resolve("int4g");
        Converter.Plan plan = Converter.plan(Goldens.path("gqa_llama3_texthead"), o);
        java.util.concurrent.atomic.AtomicLong progress = new java.util.concurrent.atomic.AtomicLong();
        Converter.Report report = Converter.convert(Goldens.path("gqa_llama3_texthead"), out, o, progress::addAndGet);
        assertThat(report.plan().quant()).isEqualTo(QuantFormat.INT4_GROUP);
        assertThat(progress.get()).as("the progress total is the plan's").isEqualTo(plan.tensorBytes())
                .isEqualTo(report.bytes());
        long onDisk = 0;
        for (Converter.RankPlan rp : plan.ranks()) {
            onDisk += Files.size(out.resolve(rp.mapping().fileName()));
        }
        assertThat(report.fileBytes()).isEqualTo(onDisk).isGreaterThan(report.bytes());
        for (Converter.RankPlan rp : plan.ranks()) {
            Map<String, String> written = writtenAsPlanned(out, rp);
            assertThat(written.get("transformer.layers.0.mlp.gate_up_proj.weight")).startsWith("I8");
            assertThat(written).containsKey("transformer.layers.0.audio_mlp.down_proj.weights_scaling_factor");
            assertThat(written.get("lm_head.weight")).startsWith("BF16");
            assertThat(written.get("text_lm_head.weight")).startsWith("I8");
        }
        JsonNode q = Json.STRICT.readTree(Files.readString(out.resolve("config.json"))).path("quantization");
        assertThat(q.path("quant_algo").asText()).isEqualTo("W4A16_AWQ");
        assertThat(q.path("group_size").asInt()).isEqualTo(16);
        assertThat(q.path("exclude_modules").get(0).asText()).isEqualTo("^lm_head");
    }

    /** The dtype and shape of every tensor of {@code rp}'s rank file in {@code out}, checked equal to the plan. */
    static Map<String, String> writtenAsPlanned(Path out, Converter.RankPlan rp) throws IOException {
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(out.resolve(rp.mapping().fileName()))) {
            Map<String, String> written = new TreeMap<>();
            ck.weights().forEach(w -> written.put(w.name(), w.tensor().dtype() + " " + w.tensor().shape()));
            Map<String, String> planned = new TreeMap<>();
            rp.tensors().forEach((n, s) -> planned.put(n, s.dtype() + " " + s.shape()));
            assertThat(written).as(rp.mapping().fileName()).isEqualTo(planned);
            return written;
        }
    }

    @Test
    void quantizedFullModelsAreSmallerAsTheirBitsSay() {
        var c = dev.higgstrt.synth.Presets.full();
        var shapes = dev.higgstrt.layout.HiggsAudioLayout.rankShapes(c, new dev.higgstrt.layout.Mapping(1, 1, 0), false);
        Map<QuantFormat, Long> bytes = new LinkedHashMap<>();
        for (QuantFormat f : QuantFormat.values()) {
            if (f.isSmoothQuant()) {
                continue;
            }
            long total = 0;
            for (var e : shapes.entrySet()) {
                for (Quantizer.Planned p : Quantizer.plan(e.getKey(), DType.BF16, e.getValue(), QuantOptions.of(f))) {
                    long n = p.shape().elementCount() * p.dtype().byteSize();
                    total += n;
                }
            }
            bytes.put(f, total);
            System.out.printf("full model (no text head), %s: %.2f GB%n", f.id(), total / 1e9);
        }
        assertThat(bytes.get(QuantFormat.INT8_WO)).isLessThan(bytes.get(QuantFormat.NONE));
        assertThat(bytes.get(QuantFormat.INT4_WO)).isLessThan(bytes.get(QuantFormat.INT8_WO));
        assertThat(bytes.get(QuantFormat.INT4_GROUP)).isGreaterThan(bytes.get(QuantFormat.INT4_WO));
    }

    @Test
    void dequantizedModelsStayWithinEachFormatsLogitError() throws IOException {
        Map<String, String> report = new LinkedHashMap<>();
        for (String model : MODELS) {
            Path floatDir = tmp.resolve(model + "-f32");
            Converter.convert(Goldens.path(model), floatDir, ConversionOptions.of(1, 1).withDtype(DType.F32), n -> { });
            ReferenceModel reference = ReferenceModel.load(floatDir);
            List<TokenInput> inputs = List.of(TokenInput.read(Goldens.path(model).resolve("mixed.json")),
                    TokenInput.read(Goldens.path(model).resolve("audio_only.json")));
            List<Logits> expected = inputs.stream().map(t -> reference.forward(t)).toList();
            float maxLogit = RoundedLogits.maxAbs(expected);
            for (QuantFormat f : List.of(QuantFormat.INT8_WO, QuantFormat.FP8, QuantFormat.INT4_WO, QuantFormat.INT4_GROUP)) {
                Path dir = tmp.resolve(model + "-" + f.id());
                Converter.convert(Goldens.path(model), dir, ConversionOptions.of(1, 1).withDtype(DType.F32)
                        .withQuant(QuantOptions.of(f).withGroupSize(8)), n -> { });
                ReferenceModel quantized = ReferenceModel.load(dir);
                float err = 0;
                for (int i = 0; i < inputs.size(); i++) {
                    err = Math.max(err, quantized.forward(inputs.get(i)).maxAbsDiff(expected.get(i)));
                }
                float relative = err / maxLogit;
                report.put(model + " " + f.id(), String.format("%.3e (%.2f %% of max |logit| %.2f)", err, 100 * relative, maxLogit));
                assertThat(relative).as("%s %s", model, f).isLessThanOrEqualTo(RELATIVE_BOUND.get(f));
                assertThat(err).as("%s %s is not the float model", model, f).isGreaterThan(0f);
            }
        }
        report.forEach((k, v) -> System.out.println("quantized logit error " + k + ": " + v));
    }
}
