package dev.higgstrt.trt.structure;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import dev.higgstrt.structure.Layers;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The native module's packages sit above the core's, bottom up: TensorRT lifetimes, CUDA, the
 * plugins, the engine, the parallel ranks, the smoke check. Dependencies point down, with no cycle.
 */
class NativePackageStructureTest {
    static final List<List<String>> NATIVE = List.of(
            List.of("dev.higgstrt.trt.tensorrt"),
            List.of("dev.higgstrt.trt.cuda"),
            List.of("dev.higgstrt.trt.plugin"),
            List.of("dev.higgstrt.trt.engine"),
            List.of("dev.higgstrt.trt.parallel", "dev.higgstrt.trt.codec"),
            List.of("dev.higgstrt.trt.smoke"));

    @Test
    void dependenciesPointDownAndFormNoCycle() {
        JavaClasses classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .withImportOption(location -> !location.contains("-tests.jar")).importPackages("dev.higgstrt");
        List<List<String>> all = new ArrayList<>(Layers.CORE);
        all.addAll(NATIVE);
        Layers.check(classes, all);
        List<String> packages = classes.stream().map(c -> c.getPackageName()).filter(p -> p.startsWith("dev.higgstrt.trt"))
                .distinct().toList();
        assertThat(NATIVE.stream().flatMap(List::stream).toList()).containsExactlyInAnyOrderElementsOf(packages);
        for (String p : packages) {
            assertThat(Path.of("src", "main", "java").resolve(p.replace('.', '/')).resolve("package-info.java")).as(p).exists();
        }
    }
}
