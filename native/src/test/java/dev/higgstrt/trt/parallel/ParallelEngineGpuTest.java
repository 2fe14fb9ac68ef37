package dev.higgstrt.trt.parallel;

import dev.higgstrt.trt.plugin.AllReducePlugin;
import dev.higgstrt.trt.engine.EngineSession;
import dev.higgstrt.trt.engine.FfnMode;
import dev.higgstrt.trt.cuda.GpuTests;
import dev.higgstrt.trt.engine.HiggsEngine;
import dev.higgstrt.trt.engine.HiggsEngineGpuTest;
import dev.higgstrt.trt.plugin.ReduceGroup;
import dev.higgstrt.trt.smoke.SmokeRun;

import dev.higgstrt.convert.ConversionOptions;
import dev.higgstrt.convert.Converter;
import dev.higgstrt.decoding.Logits;
import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.tensor.DType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Tensor- and pipeline-parallel engines on one GPU: every rank's engine built from its own rank
 * file, run by a {@link ParallelSession}, against the CPU reference. Several tp ranks on one GPU
 * sum through an in-process group (NCCL refuses two ranks on one device); NCCL itself runs with a
 * one-rank communicator. Skipped, with the reason, where no GPU or TensorRT is found.
 */
@Tag("gpu")
class ParallelEngineGpuTest {
    private static final ParallelEngine.Options ONE_GPU = ParallelEngine.Options.of(1);

    @TempDir
    static Path tmp;
    static ReferenceModel reference;
    static TokenInput prompt;

    @BeforeAll
    static void requireGpu() throws IOException {
        GpuTests.requireGpu();
        reference = ReferenceModel.load(GpuTests.GOLDEN);
        prompt = TokenInput.read(GpuTests.GOLDEN.resolve("mixed.json"));
    }

    private static Path converted(int tp, int pp, DType dtype) throws IOException {
        Path out = tmp.resolve("tp" + tp + "pp" + pp + dtype.torchName());
        if (!java.nio.file.Files.exists(out)) {
            Converter.convert(GpuTests.GOLDEN, out, ConversionOptions.of(tp, pp).withDtype(dtype), n -> { });
        }
        return out;
    }

    private static SmokeRun report(String what, SmokeRun run) {
        System.out.printf("GPU parallel %s: prefill %.3e, decode %.3e (bound %.3e), %.3f ms a decode step%n",
                what, run.prefillError(), run.decodeError(), run.bound(), run.decodeMsPerStep());
        return run;
    }

    @ParameterizedTest(name = "tp {0} x pp {1}")
    @CsvSource({"1,1", "2,1", "4,1", "1,2", "2,2"})
    void fp32RanksMatchTheReference(int tp, int pp) throws IOException {
        AllReducePlugin sums = AllReducePlugin.get();
        long before = sums.localCalls();
        try (ParallelEngine engine = ParallelEngine.build(converted(tp, pp, DType.F32), DType.F32, 64, FfnMode.AUTO, ONE_GPU)) {
            assertThat(engine.reduceKinds()).hasSize(pp)
                    .allMatch(k -> k.equals(tp > 1 ? Optional.of(ReduceGroup.Kind.IN_PROCESS) : Optional.empty()));
            SmokeRun run = report("tp " + tp + " x pp " + pp + " fp32", SmokeRun.run(engine, reference, prompt, 8));
            assertThat(run.prefillError()).isLessThanOrEqualTo(HiggsEngineGpuTest.FP32_BOUND);
            assertThat(run.decodeError()).isLessThanOrEqualTo(HiggsEngineGpuTest.FP32_BOUND);
        }
        // two sums a layer (dense, FFN) per rank and step: prefill + 8 decode steps
        long expected = tp > 1 ? 2L * reference.config().numLayers() * tp * 9 : 0;
        assertThat(sums.localCalls() - before).isEqualTo(expected);
    }

    @Test
    void bf16TensorParallelWithThePluginMatchesTheReference() throws IOException {
        try (ParallelEngine engine = ParallelEngine.build(converted(2, 1, DType.BF16), DType.BF16, 64, FfnMode.PLUGIN, ONE_GPU)) {
            SmokeRun run = report("tp 2 bf16 plugin", SmokeRun.run(engine, reference, prompt, 16));
            assertThat(run.passed()).as("within %s", run.bound()).isTrue();
        }
    }

    @Test
    void savedRankEnginesLoadBackAndGiveTheSameLogits() throws IOException {
        Path ckpt = converted(2, 2, DType.F32);
        Path folder = tmp.resolve("saved-tp2pp2");
        float[] built;
        try (ParallelEngine engine = ParallelEngine.build(ckpt, DType.F32, 32, FfnMode.AUTO, ONE_GPU);
             ParallelSession s = engine.newSession()) {
            built = s.forward(prompt).audio();
            engine.save(folder);
            assertThatThrownBy(() -> engine.save(folder)).isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
        }
        assertThat(java.nio.file.Files.list(folder).map(p -> p.getFileName().toString()).sorted().toList())
                .containsExactly("parallel.json", "rank0.engine", "rank1.engine", "rank2.engine", "rank3.engine");
        assertThat(java.nio.file.Files.list(tmp).map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp-")).toList()).isEmpty();
        try (ParallelEngine loaded = ParallelEngine.load(folder, ckpt, ONE_GPU); ParallelSession s = loaded.newSession()) {
            assertThat(loaded.tp()).isEqualTo(2);
            assertThat(loaded.pp()).isEqualTo(2);
            assertThat(s.forward(prompt).audio()).containsExactly(built);
        }
        assertThatThrownBy(() -> ParallelEngine.load(folder, converted(2, 1, DType.F32), ONE_GPU))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tp 2 x pp 2");
    }

    @Test
    void int8WeightOnlyRanksRunTheirCodesNatively() throws IOException {
        Path ckpt = tmp.resolve("tp2int8");
        Converter.convert(GpuTests.GOLDEN, ckpt, ConversionOptions.of(2, 1).withDtype(DType.BF16)
                .withQuant(dev.higgstrt.quant.QuantOptions.of(dev.higgstrt.quant.QuantFormat.INT8_WO)), n -> { });
        ReferenceModel dequantized = ReferenceModel.load(ckpt);
        try (ParallelEngine engine = ParallelEngine.build(ckpt, DType.BF16, 64, FfnMode.COMPUTE_BOTH, ONE_GPU)) {
            SmokeRun run = report("tp 2 int8_wo bf16", SmokeRun.run(engine, dequantized, prompt, 16));
            assertThat(run.passed()).as("within %s", run.bound()).isTrue();
        }
    }

    @Test
    void oneRankEngineEqualsTheSingleEngine() throws IOException {
        Path ckpt = converted(1, 1, DType.F32);
        try (HiggsEngine single = HiggsEngine.build(ckpt, DType.F32, 32);
             ParallelEngine parallel = ParallelEngine.build(ckpt, DType.F32, 32, FfnMode.AUTO, ONE_GPU);
             EngineSession a = single.newSession();
             ParallelSession b = parallel.newSession()) {
            float worst = a.forward(prompt).maxAbsDiff(b.forward(prompt));
            for (int i = 0; i < 4; i++) {
                TokenInput step = TokenInput.text(5 + i);
                worst = Math.max(worst, a.forward(step).maxAbsDiff(b.forward(step)));
            }
            System.out.printf("GPU parallel tp 1 against HiggsEngine: max |diff| = %.3e%n", worst);
            assertThat(worst).isLessThanOrEqualTo(1e-4f);
            assertThat(b.length()).isEqualTo(a.length()).isEqualTo(prompt.length() + 4);
        }
    }

    @Test
    void ncclSumsWithAOneRankCommunicator() throws IOException {
        AllReducePlugin sums = AllReducePlugin.get();
        long before = sums.ncclCalls();
        try (ParallelEngine engine = ParallelEngine.build(converted(1, 1, DType.F32), DType.F32, 32, FfnMode.AUTO,
                ONE_GPU.withReduce(ReduceGroup.Kind.NCCL), true)) {
            assertThat(engine.reduceKinds()).containsExactly(Optional.of(ReduceGroup.Kind.NCCL));
            SmokeRun run = report("tp 1 through NCCL", SmokeRun.run(engine, reference, prompt, 4));
            assertThat(run.prefillError()).isLessThanOrEqualTo(HiggsEngineGpuTest.FP32_BOUND);
            assertThat(run.decodeError()).isLessThanOrEqualTo(HiggsEngineGpuTest.FP32_BOUND);
        }
        assertThat(sums.ncclCalls() - before).isEqualTo(2L * reference.config().numLayers() * 5);
    }

    @Test
    void refusals() throws IOException {
        Path tp2 = converted(2, 1, DType.F32);
        assertThatThrownBy(() -> HiggsEngine.build(tp2, DType.F32, 16))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ParallelEngine");
        assertThatThrownBy(() -> ReduceGroup.nccl(0, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("one GPU per rank");
        try (ParallelEngine engine = ParallelEngine.build(tp2, DType.F32, 16, FfnMode.AUTO, ONE_GPU);
             ParallelSession s = engine.newSession()) {
            assertThatThrownBy(() -> engine.engine(0).newSession().forward(prompt))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("ParallelEngine");
            Logits first = s.forward(prompt.slice(reference.config(), 0, 4));
            assertThat(first.tokens()).isEqualTo(4);
            assertThatThrownBy(() -> s.forward(prompt.slice(reference.config(), 4, 6)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("one at a time");
            assertThat(s.length()).isEqualTo(4);
        }
    }

    /** Decode speed of tp 1, 2 and 4 on one GPU (ranks share it: this measures the cost of the split, not a speed-up). */
    @Test
    void decodeSpeedOnOneGpu() throws IOException {
        for (int tp : List.of(1, 2, 4)) {
            try (ParallelEngine engine = ParallelEngine.build(converted(tp, 1, DType.BF16), DType.BF16, 64, FfnMode.AUTO, ONE_GPU)) {
                SmokeRun run = report("speed tp " + tp + " bf16 one GPU", SmokeRun.run(engine, reference, prompt, 32));
                assertThat(run.passed()).isTrue();
            }
        }
    }
}
