package dev.higgstrt.cli;

import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.trt.engine.HiggsEngine;
import dev.higgstrt.trt.parallel.ParallelEngine;
import dev.higgstrt.trt.smoke.SmokeRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code higgs-trt smoke}: an engine against the CPU reference, with its speed. */
@Command(name = "smoke", mixinStandardHelpOptions = true,
        description = {"Check an engine against the CPU reference, with its speed.",
                "Runs a prefill of mixed text/audio positions and N decode steps, compares every logit with the CPU",
                "reference and prints the error and the speed; exits 1 when the error exceeds the bound of the",
                "engine's dtype (docs/gpu.md)."})
final class SmokeCommand implements Callable<Integer> {
    @Option(names = "--engine", required = true, paramLabel = "PATH",
            description = "An engine file from higgs-trt build, or its folder of rank engines (tp x pp > 1).")
    Path engine;

    @Option(names = "--checkpoint", required = true, paramLabel = "DIR", description = "The converted checkpoint it was built from.")
    Path checkpoint;

    @Option(names = "--tokens", paramLabel = "FILE", description = "A token file (default: a 32-position mixed prompt).")
    Path tokens;

    @Option(names = "--decode", defaultValue = "32", description = "Decode steps (default: ${DEFAULT-VALUE}).")
    int decode;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        GpuCheck.require("smoke");
        ReferenceModel reference = ReferenceModel.load(checkpoint);
        var rounding = SmokeRun.engineRounding(checkpoint);
        if (java.nio.file.Files.isDirectory(engine)) {
            try (ParallelEngine e = ParallelEngine.load(engine, checkpoint, ParallelEngine.Options.allDevices())) {
                TokenInput prompt = prompt(e.config(), e.maxSequence());
                return report(SmokeRun.run(e, reference, rounding, prompt, Math.min(decode, e.maxSequence() - prompt.length())),
                        e.dtype().torchName() + ", tp " + e.tp() + " x pp " + e.pp());
            }
        }
        try (HiggsEngine e = HiggsEngine.load(engine, checkpoint)) {
            TokenInput prompt = prompt(e.config(), e.maxSequence());
            return report(SmokeRun.run(e, reference, rounding, prompt, Math.min(decode, e.maxSequence() - prompt.length())),
                    e.dtype().torchName());
        }
    }

    private TokenInput prompt(dev.higgstrt.model.HiggsAudioConfig c, int maxSequence) throws java.io.IOException {
        return tokens != null ? TokenInput.read(tokens) : SmokeRun.prompt(c, Math.min(32, maxSequence / 2), 1);
    }

    private int report(SmokeRun r, String what) {
        var out = spec.commandLine().getOut();
        out.printf("prefill %d positions: max |engine - reference| = %.3e, %.1f ms (%.0f positions/s)%n",
                r.prefillTokens(), r.prefillError(), r.prefillMs(), r.prefillTokens() / (r.prefillMs() / 1e3));
        out.printf("decode %d steps: max |engine - reference| = %.3e, %.2f ms/step (median)%n",
                r.decodeSteps(), r.decodeError(), r.decodeMsPerStep());
        out.printf("%s: bound for %s is %.3e%n", r.passed() ? "passed" : "FAILED", what, r.bound());
        return r.passed() ? 0 : 1;
    }
}
