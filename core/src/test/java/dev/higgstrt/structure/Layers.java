package dev.higgstrt.structure;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.dependencies.SlicesRuleDefinition;

import java.util.ArrayList;
import java.util.List;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

/**
 * The package structure as rules: levels from the bottom up, each a set of packages; a class may
 * use its own package and the packages of lower levels only (not a sibling at its own level, not
 * anything above), and no packages form a cycle. The native module's test extends the core's
 * levels with its own.
 */
public final class Layers {
    /** The core module, bottom up (docs/architecture.md draws the same). */
    public static final List<List<String>> CORE = List.of(
            List.of("dev.higgstrt.tensor", "dev.higgstrt.io"),
            List.of("dev.higgstrt.weights"),
            List.of("dev.higgstrt.safetensors", "dev.higgstrt.model", "dev.higgstrt.text"),
            List.of("dev.higgstrt.decoding"),
            List.of("dev.higgstrt.layout", "dev.higgstrt.generation"),
            List.of("dev.higgstrt.audio", "dev.higgstrt.runtime"),
            List.of("dev.higgstrt.quant"),
            List.of("dev.higgstrt.converted"),
            List.of("dev.higgstrt.reference"),
            List.of("dev.higgstrt.convert", "dev.higgstrt.synth"));

    private Layers() {
    }

    /** Checks that every level uses only itself and what is below, and that no packages form a cycle. */
    public static void check(JavaClasses classes, List<List<String>> levels) {
        List<ArchRule> rules = new ArrayList<>();
        for (int i = 0; i < levels.size(); i++) {
            for (String pkg : levels.get(i)) {
                List<String> forbidden = new ArrayList<>();
                for (int j = i; j < levels.size(); j++) {
                    for (String other : levels.get(j)) {
                        if (!other.equals(pkg)) {
                            forbidden.add(other + "..");
                        }
                    }
                }
                if (!forbidden.isEmpty()) {
                    rules.add(noClasses().that().resideInAPackage(pkg + "..").and().resideOutsideOfPackages(subpackagesOf(pkg, levels))
                            .should().dependOnClassesThat().resideInAnyPackage(forbidden.toArray(String[]::new))
                            .because(pkg + " is below them: dependencies point down").allowEmptyShould(true));
                }
            }
        }
        rules.add(SlicesRuleDefinition.slices().matching("dev.higgstrt.(**)").should().beFreeOfCycles());
        for (ArchRule rule : rules) {
            rule.check(classes);
        }
    }

    /** Listed packages nested in {@code pkg} (checked as levels of their own). */
    private static String[] subpackagesOf(String pkg, List<List<String>> levels) {
        return levels.stream().flatMap(List::stream).filter(p -> p.startsWith(pkg + ".")).map(p -> p + "..")
                .toArray(String[]::new);
    }
}
