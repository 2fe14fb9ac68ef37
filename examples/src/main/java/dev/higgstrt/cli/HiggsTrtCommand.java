package dev.higgstrt.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Properties;

/** {@code bin/higgs-trt}: the command line of higgs-trt. */
@Command(name = "higgs-trt",
        mixinStandardHelpOptions = true,
        versionProvider = HiggsTrtCommand.Version.class,
        description = "Higgs Audio v2: from its Hugging Face checkpoint to a TensorRT engine, from the JVM.",
        subcommands = {DemoCommand.class, SynthCommand.class, InspectCommand.class, ConvertCommand.class, ReferenceCommand.class,
                TokenizeCommand.class, GenerateCommand.class, TtsCommand.class, DecodeCodesCommand.class, BuildCommand.class, BuildCodecCommand.class, ServeCommand.class, SmokeCommand.class,
                CommandLine.HelpCommand.class})
public final class HiggsTrtCommand implements Runnable {
    /** Exit status for bad input or usage. */
    public static final int EXIT_BAD_INPUT = 2;

    @Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces of errors.")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** A bare {@code higgs-trt} is a usage error: the usage goes to stderr, exit 2. */
    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
        throw new CommandLine.ParameterException(spec.commandLine(), "no command given");
    }

    /** Runs the command line and returns its exit status. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        HiggsTrtCommand root = new HiggsTrtCommand();
        CommandLine cl = new CommandLine(root);
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            boolean debug = root.debug || parseResult.hasMatchedOption("--debug");
            commandLine.getErr().println("error: " + ErrorMessages.describe(ex));
            if (debug) {
                ex.printStackTrace(commandLine.getErr());
            }
            commandLine.getErr().flush();
            return EXIT_BAD_INPUT;
        });
        cl.setParameterExceptionHandler((ex, args1) -> {
            CommandLine at = ex.getCommandLine();
            String command = at.getCommandSpec().qualifiedName();
            at.getErr().println("error: " + ex.getMessage() + " (see '" + command + " --help')");
            return EXIT_BAD_INPUT;
        });
        int status;
        try {
            status = cl.execute(args);
        } catch (Throwable t) {
            // picocli hands Exceptions to the handler above; an Error (out of memory, a linkage
            // error) would otherwise end the JVM with a raw stack trace
            err.println("error: " + ErrorMessages.describe(t));
            if (root.debug || java.util.Arrays.asList(args).contains("--debug")) {
                t.printStackTrace(err);
            }
            status = EXIT_BAD_INPUT;
        }
        out.flush();
        err.flush();
        return status;
    }

    /** Entry point. */
    public static void main(String[] args) {
        // DJL (the tokenizer's binding) logs its platform probing at INFO and WARN: not the user's business
        if (System.getProperty("org.slf4j.simpleLogger.log.ai.djl") == null) {
            System.setProperty("org.slf4j.simpleLogger.log.ai.djl", "error");
        }
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(execute(args, out, err));
    }

    /** The version from the build. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[]{"higgs-trt " + version(), "Java " + Runtime.version()};
        }

        static String version() {
            try (InputStream in = HiggsTrtCommand.class.getResourceAsStream("version.properties")) {
                Properties p = new Properties();
                if (in != null) {
                    p.load(in);
                }
                return p.getProperty("version", "unknown");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
