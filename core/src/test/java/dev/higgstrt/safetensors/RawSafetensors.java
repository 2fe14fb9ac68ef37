package dev.higgstrt.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes hand-made (possibly malformed) safetensors files byte by byte, for tests. */
public final class RawSafetensors {
    private RawSafetensors() {
    }

    /** A file with this header text (its true length) followed by {@code dataBytes} bytes. */
    public static Path write(Path file, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return write(file, h.length, h, new byte[dataBytes]);
    }

    /** A file declaring {@code declaredLength}, with these header and data bytes. */
    public static Path write(Path file, long declaredLength, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header).put(data);
        Files.write(file, b.array());
        return file;
    }
}
