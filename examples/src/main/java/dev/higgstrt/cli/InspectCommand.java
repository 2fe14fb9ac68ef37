package dev.higgstrt.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.higgstrt.io.Json;
import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsReader;
import dev.higgstrt.safetensors.TensorInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** {@code higgs-trt inspect PATH [--json]}: lists the tensors of safetensors files. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"List the tensors of a .safetensors file, or of every .safetensors file in a folder",
                "(checking the folder's model.safetensors.index.json, if any).",
                "Text: one line per tensor, 'name dtype [d0,d1,...]', sorted by name."})
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PATH", description = "A .safetensors file or a folder.")
    Path path;

    @Option(names = "--json", description = "Print {\"files\": {file: {tensor: {\"dtype\", \"shape\"}}}}.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString());
        }
        Map<String, Map<String, TensorInfo>> files = new TreeMap<>();
        if (Files.isDirectory(path)) {
            if (Files.isRegularFile(path.resolve(dev.higgstrt.safetensors.ShardIndex.FILE_NAME))) {
                // The checkpoint checks the index against its shards; every other file is listed too.
                try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(path)) {
                    ck.readers().forEach((name, r) -> files.put(name, r.infos()));
                }
            }
            for (Path f : SafetensorsCheckpoint.safetensorsFiles(path)) {
                String name = f.getFileName().toString();
                if (!files.containsKey(name)) {
                    try (SafetensorsReader r = SafetensorsReader.open(f)) {
                        files.put(name, r.infos());
                    }
                }
            }
        } else {
            try (SafetensorsReader r = SafetensorsReader.open(path)) {
                files.put(path.getFileName().toString(), r.infos());
            }
        }
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
            out.println(Json.PRETTY.writeValueAsString(root));
        } else {
            List<TensorInfo> all = new ArrayList<>();
            files.values().forEach(m -> all.addAll(m.values()));
            all.sort(java.util.Comparator.comparing(TensorInfo::name));
            for (TensorInfo t : all) {
                out.println(t.name() + " " + t.dtype().safetensorsName() + " " + t.shape());
            }
        }
        out.flush();
        return 0;
    }
}
