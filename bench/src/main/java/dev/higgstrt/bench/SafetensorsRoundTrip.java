package dev.higgstrt.bench;

import dev.higgstrt.safetensors.SafetensorsCheckpoint;
import dev.higgstrt.safetensors.SafetensorsWriter;
import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;
import dev.higgstrt.tensor.TensorSource;
import dev.higgstrt.weights.Provenance;
import dev.higgstrt.weights.WeightMap;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The safetensors I/O benchmark of docs/performance.md (run by bench/io.sh).
 *
 * <pre>
 * generate OUT.safetensors GIB   a BF16 file of GIB GiB of pseudo-random finite values
 * convert  IN OUT                read IN, cast BF16 -> F32 -> BF16 lazily, write OUT;
 *                                prints seconds, GB/s and the peak RSS (VmHWM)
 * </pre>
 */
public final class SafetensorsRoundTrip {
    private SafetensorsRoundTrip() {
    }

    public static void main(String[] args) throws IOException {
        switch (args.length > 0 ? args[0] : "") {
            case "generate" -> generate(Path.of(args[1]), Double.parseDouble(args[2]));
            case "convert" -> convert(Path.of(args[1]), Path.of(args[2]));
            default -> {
                System.err.println("usage: generate OUT GIB | convert IN OUT");
                System.exit(2);
            }
        }
    }

    private static void generate(Path out, double gib) throws IOException {
        long rows = 8192;
        long cols = 8192;
        long perTensor = rows * cols * 2;
        int tensors = (int) Math.max(1, Math.round(gib * (1L << 30) / perTensor));
        WeightMap.Builder b = WeightMap.builder();
        for (int i = 0; i < tensors; i++) {
            b.put(String.format("layers.%02d.weight", i), new RandomBf16(Shape.of(rows, cols), i), Provenance.memory("random"));
        }
        SafetensorsWriter.write(out, b.build(), Map.of("format", "pt"));
        System.out.printf("generated %s: %d tensors, %d bytes%n", out, tensors, Files.size(out));
    }

    private static void convert(Path in, Path out) throws IOException {
        long t0 = System.nanoTime();
        long bytes;
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(in)) {
            WeightMap roundTrip = ck.weights().cast(DType.F32).cast(DType.BF16);
            bytes = SafetensorsWriter.write(out, roundTrip, Map.of("format", "pt"));
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("converted %d bytes in %.3f s (%.2f GB/s), peak RSS %d MB%n",
                bytes, s, bytes / s / 1e9, peakRssKb() / 1024);
    }

    static long peakRssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** Deterministic pseudo-random BF16 values in (-2, 2), generated row by row. */
    private record RandomBf16(Shape shape, long seed) implements TensorSource {
        @Override
        public DType dtype() {
            return DType.BF16;
        }

        @Override
        public void readRows(long firstRow, long rowCount, MemorySegment dst) {
            long n = rowCount * rowElements();
            long x = seed * 0x9E3779B97F4A7C15L + firstRow + 1;
            for (long i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                // sign, exponent 120..127, random mantissa: finite, no NaN
                short bits = (short) ((x & 0x8000) | ((120 + ((x >>> 20) & 7)) << 7) | ((x >>> 32) & 0x7F));
                dst.set(ValueLayout.JAVA_SHORT_UNALIGNED, i * 2, bits);
            }
        }
    }
}
