package dev.higgstrt.docs;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every {@code java} code block of the README compiles as written, against the library: its
 * import lines go to the top of a class, the rest into a method body.
 */
class ReadmeExampleTest {
    @TempDir
    Path tmp;

    static List<String> javaBlocks(Path markdown) throws IOException {
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(markdown));
        List<String> blocks = new ArrayList<>();
        while (m.find()) {
            blocks.add(m.group(1));
        }
        return blocks;
    }

    @Test
    void theReadmesJavaCompiles() throws IOException {
        Path readme = Path.of("..", "README.md");
        List<String> blocks = javaBlocks(readme);
        assertThat(blocks).as("java blocks in " + readme).isNotEmpty();
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        for (int i = 0; i < blocks.size(); i++) {
            StringBuilder imports = new StringBuilder();
            StringBuilder body = new StringBuilder();
            for (String line : blocks.get(i).split("\n")) {
                (line.startsWith("import ") ? imports : body).append(line).append('\n');
            }
            String name = "ReadmeExample" + i;
            Path src = tmp.resolve(name + ".java");
            Files.writeString(src, imports + "\nclass " + name + " {\n    static void run() throws Exception {\n" + body + "    }\n}\n");
            DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
            try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, null)) {
                boolean ok = javac.getTask(null, files, diagnostics, List.of("-d", tmp.resolve("classes").toString(),
                        "-classpath", System.getProperty("java.class.path"), "-proc:none"), null,
                        files.getJavaFileObjects(src)).call();
                StringBuilder errors = new StringBuilder();
                for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
                    errors.append(d.getLineNumber()).append(": ").append(d.getMessage(null)).append('\n');
                }
                assertThat(ok).as("README java block %d:\n%s\n%s", i, blocks.get(i), errors).isTrue();
            }
        }
    }
}
