package dev.higgstrt.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A file written under a temporary name in the target's folder and renamed to its final name
 * only by {@link #commit()}: a failed, interrupted or killed write never leaves a file under
 * the final name. Closing without committing deletes the temporary file.
 *
 * <pre>{@code
 * try (AtomicOutput out = AtomicOutput.create(path)) {
 *     write(out.channel());
 *     out.commit();
 * }
 * }</pre>
 *
 * <p>{@link #createDirect} opens the file for direct I/O where the file system allows it: writes
 * then go from the caller's buffers to the device without passing through the page cache.
 */
public final class AtomicOutput implements AutoCloseable {
    /**
     * System property that turns direct I/O off when set to {@code false} ({@link #createDirect}
     * then writes through the page cache, as {@link #create} does).
     */
    public static final String DIRECT_IO_PROPERTY = "higgstrt.directIo";
    /** Largest alignment that direct I/O is used with; a file store asking for more gets buffered I/O. */
    private static final long MAX_ALIGNMENT = 1 << 20;

    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private final int alignment;
    private boolean committed;
    private boolean closed;

    private AtomicOutput(Path target, Path temp, FileChannel channel, int alignment) {
        this.target = target;
        this.temp = temp;
        this.channel = channel;
        this.alignment = alignment;
    }

    /**
     * Writes a whole text file atomically: into a temporary beside {@code target}, forced, then
     * renamed over it, so that readers see the old file or the new one, never a part.
     *
     * @param target the file to write
     * @param text   its content, encoded as UTF-8
     * @throws IOException when the file cannot be written
     */
    public static void writeString(Path target, String text) throws IOException {
        writeBytes(target, text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * Writes a whole file atomically, as {@link #writeString} does.
     *
     * @param target the file to write
     * @param bytes  its content
     * @throws IOException when the file cannot be written
     */
    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        try (AtomicOutput out = create(target)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                out.channel().write(b);
            }
            out.commit();
        }
    }

    /**
     * Opens a temporary file beside {@code target} for writing.
     *
     * @param target the target type
     * @return a temporary file beside {@code target} for writing
     * @throws IOException when a file cannot be read or written
     */
    public static AtomicOutput create(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        return buffered(abs, temporaryBeside(abs));
    }

    /**
     * Opens a temporary file beside {@code target} for direct I/O when the file system supports
     * it, else as {@link #create} does. With direct I/O, {@link #alignment()} is above 1: every
     * write must start at a multiple of it, have a length that is a multiple of it, and come from
     * native memory aligned to it; {@link FileChannel#truncate} then cuts the padding of the last
     * write. Direct I/O writes at the device's speed without filling the page cache, and is off
     * where the system property {@value #DIRECT_IO_PROPERTY} is {@code false}.
     *
     * @param target the target type
     * @return a temporary file beside {@code target} for direct I/O when the file system supports it, else as {@link #create} does
     * @throws IOException when a file cannot be read or written
     */
    public static AtomicOutput createDirect(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path temp = temporaryBeside(abs);
        OpenOption direct = directOption();
        long alignment = direct == null ? 0 : blockSize(abs.getParent());
        if (alignment > 1 && alignment <= MAX_ALIGNMENT && Long.bitCount(alignment) == 1) {
            try {
                FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, direct);
                return new AtomicOutput(abs, temp, ch, (int) alignment);
            } catch (FileAlreadyExistsException e) {
                throw e;
            } catch (IOException | UnsupportedOperationException e) {
                // the file system refuses O_DIRECT (the file may have been created before the refusal)
                Files.deleteIfExists(temp);
            }
        }
        return buffered(abs, temp);
    }

    private static AtomicOutput buffered(Path abs, Path temp) throws IOException {
        return new AtomicOutput(abs, temp, FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), 1);
    }

    private static Path temporaryBeside(Path abs) throws IOException {
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        String name = "." + abs.getFileName() + ".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
        return dir.resolve(name);
    }

    /**
     * The JDK's {@code com.sun.nio.file.ExtendedOpenOption.DIRECT}, looked up by name because it
     * lives in {@code jdk.unsupported}; null when absent or turned off.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    private static OpenOption directOption() {
        if ("false".equalsIgnoreCase(System.getProperty(DIRECT_IO_PROPERTY))) {
            return null;
        }
        try {
            Class<? extends Enum> type = (Class<? extends Enum>) Class.forName("com.sun.nio.file.ExtendedOpenOption");
            return (OpenOption) Enum.valueOf(type, "DIRECT");
        } catch (ReflectiveOperationException | IllegalArgumentException | LinkageError e) {
            return null;
        }
    }

    private static long blockSize(Path dir) {
        try {
            return Math.max(4096, Files.getFileStore(dir).getBlockSize());
        } catch (IOException | UnsupportedOperationException e) {
            return 0;
        }
    }

    /**
     * 1 for a file written through the page cache; above 1 for direct I/O, the alignment of
     * every write's position, length and buffer address.
     *
     * @return the write alignment: 1 through the page cache, the direct-I/O alignment otherwise
     */
    public int alignment() {
        return alignment;
    }

    /**
     * The channel to write to.
     *
     * @return the channel to write to
     */
    public FileChannel channel() {
        return channel;
    }

    /**
     * The final path.
     *
     * @return the final path
     */
    public Path target() {
        return target;
    }

    /**
     * Forces the data to disk, closes the channel and renames the file to its final name.
     *
     * @throws IOException when a file cannot be read or written
     */
    public void commit() throws IOException {
        if (closed) {
            throw new IllegalStateException("already closed: " + target);
        }
        channel.force(true);
        channel.close();
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        committed = true;
        closed = true;
    }

    /** Discards the temporary file unless {@link #commit()} succeeded. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
        } finally {
            if (!committed) {
                Files.deleteIfExists(temp);
            }
        }
    }
}
