package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.safetensors.ShardIndex;
import dev.higgstrt.safetensors.TensorInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/** {@code higgs-trt inspect PATH [--json]}: lists the tensors of safetensors files. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"List the tensors of a .safetensors file or of a folder.",
                "A folder: every .safetensors file in it.",
                "A folder's model.safetensors.index.json is checked against its shards, and files it does not",
                "list are flagged. Text: one line per tensor, 'name dtype [d0,d1,...] file', sorted by name."})
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PATH", description = "A .safetensors file or a folder.")
    Path path;

    @Option(names = "--json", description = "Print {\"files\": {file: {tensor: {\"dtype\", \"shape\"}}}}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliPaths.existing(path, "a .safetensors file or a checkpoint folder");
        Map<String, Map<String, TensorInfo>> files = new TreeMap<>();
        List<String> notes = new ArrayList<>();
        if (Files.isDirectory(path)) {
            List<Path> all = SafetensorsCheckpoint.safetensorsFiles(path);
            if (all.isEmpty()) {
                throw new CliPaths.BadInput(path + ": no .safetensors file in this folder");
            }
            Set<String> indexed = new TreeSet<>();
            if (Files.isRegularFile(path.resolve(ShardIndex.FILE_NAME))) {
                // the checkpoint checks the index against its shards
                try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(path)) {
                    ck.readers().forEach((name, r) -> {
                        files.put(name, r.infos());
                        indexed.add(name);
                    });
                }
            }
            for (Path f : all) {
                String name = f.getFileName().toString();
                if (!files.containsKey(name)) {
                    try (SafetensorsReader r = SafetensorsReader.open(f)) {
                        files.put(name, r.infos());
                    }
                    if (!indexed.isEmpty()) {
                        notes.add(name + " is not listed in " + ShardIndex.FILE_NAME + ": readers of the checkpoint ignore it");
                    }
                }
            }
        } else {
            try (SafetensorsReader r = SafetensorsReader.open(path)) {
                files.put(path.getFileName().toString(), r.infos());
            }
        }
        Map<String, List<String>> holders = new TreeMap<>();
        files.forEach((file, infos) -> infos.keySet().forEach(t -> holders.computeIfAbsent(t, k -> new ArrayList<>()).add(file)));
        holders.forEach((t, in) -> {
            if (in.size() > 1) {
                notes.add(t + " is in " + in.size() + " files: " + String.join(", ", in));
            }
        });
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode root = Json.PRETTY.createObjectNode();
            ObjectNode filesNode = root.putObject("files");
            files.forEach((file, infos) -> {
                ObjectNode f = filesNode.putObject(file);
                infos.values().forEach(t -> {
                    ObjectNode e = f.putObject(t.name());
                    e.put("dtype", t.dtype().safetensorsName());
                    var shape = e.putArray("shape");
                    for (long d : t.shape().toArray()) {
                        shape.add(d);
                    }
                });
            });
            var notesNode = root.putArray("notes");
            notes.forEach(notesNode::add);
            out.println(Json.PRETTY.writeValueAsString(root));
        } else {
            record Row(TensorInfo info, String file) {
            }
            List<Row> rows = new ArrayList<>();
            files.forEach((file, infos) -> infos.values().forEach(t -> rows.add(new Row(t, file))));
            rows.sort(Comparator.comparing((Row r) -> r.info().name()).thenComparing(Row::file));
            for (Row r : rows) {
                out.println(r.info().name() + " " + r.info().dtype().safetensorsName() + " " + r.info().shape() + " " + r.file());
            }
            notes.forEach(n -> out.println("note: " + n));
        }
        out.flush();
        return 0;
    }
}
