package dev.higgstrt.trt.engine;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.decoding.DecoderSession;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.quant.QuantFormat;
import dev.higgstrt.quant.QuantOptions;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.runtime.BatchDecoder;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.trt.cuda.GpuTests;
import dev.higgstrt.trt.plugin.DualFfnPlugin;
import dev.higgstrt.trt.plugin.PluginTests;
import dev.higgstrt.trt.smoke.SmokeRun;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The packed, paged engine built from int8_wo and fp8 checkpoints (the weights kept quantized,
 * dequantized before TensorRT's products; the linear plugin takes only weights in the compute
 * type) agrees with the reference forward of the dequantized checkpoint within the BF16 bound,
 * with the dual-FFN plugin and with both FFN paths computed, at prefill and decode, one sequence
 * alone and two in one call.
 */
@Tag("gpu")
class PagedQuantizedGpuTest {
    @TempDir
    static Path tmp;

    @BeforeAll
    static void requireGpu() {
        GpuTests.requireGpu();
    }

    @ParameterizedTest
    @EnumSource(value = FfnMode.class, names = {"PLUGIN", "COMPUTE_BOTH"})
    void quantizedPagedEnginesMatchTheDequantizedReference(FfnMode mode) throws IOException {
        if (mode == FfnMode.PLUGIN) {
            PluginTests.requireDualFfnPlugin("plugin");
        }
        TokenInput mixed = TokenInput.read(GpuTests.GOLDEN.resolve("mixed.json"));
        for (QuantFormat f : List.of(QuantFormat.INT8_WO, QuantFormat.FP8)) {
            Path ckpt = tmp.resolve(f.id() + "-" + mode);
            Converter.convert(GpuTests.GOLDEN, ckpt, ConversionOptions.of(1, 1).withDtype(DType.BF16).withQuant(QuantOptions.of(f)),
                    n -> { });
            HiggsAudioConfig c = HiggsAudioConfig.readFolder(ckpt);
            int blockSize = 4;
            int blocks = (mixed.length() + 8 + blockSize - 1) / blockSize;
            PagedEngine.Shape shape = new PagedEngine.Shape(blocks * blockSize, 64, 4, blockSize);
            try (PagedEngine engine = PagedEngine.build(ckpt, DType.BF16, shape, mode);
                 ReferenceModel reference = ReferenceModel.load(ckpt);
                 PagedDecoder decoder = engine.newDecoder(2 * blocks);
                 DecoderSession refA = reference.newSession();
                 DecoderSession refB = reference.newSession()) {
                int[] tableA = range(0, blocks);
                int[] tableB = range(blocks, 2 * blocks);
                // A: the whole prompt alone; B: its first 7 tokens, then both decode together
                TokenInput promptA = mixed;
                TokenInput promptB = mixed.slice(c, 0, 7);
                float[] wantA = refA.forwardLast(promptA);
                float bound = SmokeRun.bound(DType.BF16, maxAbs(wantA));
                float prefillError = Logits.maxAbsDiff(decoder.step(List.of(new BatchDecoder.Work(0, promptA, 0, tableA))).getFirst(), wantA);
                float[] wantB = refB.forwardLast(promptB);
                prefillError = Math.max(prefillError,
                        Logits.maxAbsDiff(decoder.step(List.of(new BatchDecoder.Work(1, promptB, 0, tableB))).getFirst(), wantB));
                int pastA = promptA.length();
                int pastB = promptB.length();
                Random r = new Random(11);
                float decodeError = 0;
                for (int step = 0; step < 6; step++) {
                    TokenInput a = PagedEngineGpuTest.randomFrame(c, r);
                    TokenInput b = step % 2 == 0 ? TokenInput.text(3 + r.nextInt(Math.max(1, c.vocabSize() - 10)))
                            : PagedEngineGpuTest.randomFrame(c, r);
                    List<float[]> got = decoder.step(List.of(new BatchDecoder.Work(0, a, pastA, tableA),
                            new BatchDecoder.Work(1, b, pastB, tableB)));
                    decodeError = Math.max(decodeError, Logits.maxAbsDiff(got.get(0), refA.forwardLast(a)));
                    decodeError = Math.max(decodeError, Logits.maxAbsDiff(got.get(1), refB.forwardLast(b)));
                    pastA++;
                    pastB++;
                }
                System.out.printf("GPU paged %s engine %s: prefill %.3e, decode (two sequences a call) %.3e, bound %.3e%n",
                        f.id(), mode.id(), prefillError, decodeError, bound);
                assertThat(prefillError).as("%s %s prefill", f, mode).isLessThanOrEqualTo(bound);
                assertThat(decodeError).as("%s %s decode", f, mode).isLessThanOrEqualTo(bound);
            }
        }
    }

    private static int[] range(int from, int to) {
        int[] out = new int[to - from];
        java.util.Arrays.setAll(out, i -> from + i);
        return out;
    }

    private static float maxAbs(float[] v) {
        float m = 0;
        for (float x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }
}
