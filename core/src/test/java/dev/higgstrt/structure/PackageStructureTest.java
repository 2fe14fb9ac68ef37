package dev.higgstrt.structure;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The core module's packages point down and form no cycle; each has a package-info.java. */
class PackageStructureTest {
    private static final JavaClasses CORE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("dev.higgstrt");

    @Test
    void dependenciesPointDownAndFormNoCycle() {
        Layers.check(CORE, Layers.CORE);
    }

    @Test
    void everyPackageIsALevelAndHasAPackageInfo() throws Exception {
        List<String> packages = CORE.stream().map(c -> c.getPackageName()).distinct().sorted().toList();
        List<String> listed = Layers.CORE.stream().flatMap(List::stream).toList();
        assertThat(listed).as("levels list every package of the core").containsExactlyInAnyOrderElementsOf(packages);
        Path src = Path.of("src", "main", "java");
        for (String p : packages) {
            assertThat(src.resolve(p.replace('.', '/')).resolve("package-info.java")).as(p).exists();
        }
        try (Stream<Path> s = Files.walk(src)) {
            assertThat(s.filter(f -> f.getFileName().toString().equals("package-info.java")).count()).isEqualTo(packages.size());
        }
    }
}
