package dev.higgstrt.cli;

import dev.higgstrt.reference.ReferenceModel;
import dev.higgstrt.reference.TokenInput;
import dev.higgstrt.trt.HiggsEngine;
import dev.higgstrt.trt.SmokeRun;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code higgs-trt smoke}: an engine against the CPU reference, with its speed. */
@Command(name = "smoke", mixinStandardHelpOptions = true,
        description = {"Run a prefill of mixed text/audio positions and N decode steps on an engine, compare every",
                "logit with the CPU reference, print the error and the speed; exit 1 when the error exceeds the",
                "bound of the engine's dtype (docs/gpu.md)."})
final class SmokeCommand implements Callable<Integer> {
    @Option(names = "--engine", required = true, paramLabel = "FILE", description = "An engine file from higgs-trt build.")
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
        try (HiggsEngine e = HiggsEngine.load(engine, checkpoint)) {
            ReferenceModel reference = ReferenceModel.load(checkpoint);
            TokenInput prompt = tokens != null ? TokenInput.read(tokens) : SmokeRun.prompt(e.config(), Math.min(32, e.maxSequence() / 2), 1);
            SmokeRun r = SmokeRun.run(e, reference, SmokeRun.engineRounding(checkpoint), prompt, Math.min(decode, e.maxSequence() - prompt.length()));
            var out = spec.commandLine().getOut();
            out.printf("prefill %d positions: max |engine - reference| = %.3e, %.1f ms (%.0f positions/s)%n",
                    r.prefillTokens(), r.prefillError(), r.prefillMs(), r.prefillTokens() / (r.prefillMs() / 1e3));
            out.printf("decode %d steps: max |engine - reference| = %.3e, %.2f ms/step (median)%n",
                    r.decodeSteps(), r.decodeError(), r.decodeMsPerStep());
            out.printf("%s: bound for %s is %.3e%n", r.passed() ? "passed" : "FAILED", e.dtype().torchName(), r.bound());
            return r.passed() ? 0 : 1;
        }
    }
}
