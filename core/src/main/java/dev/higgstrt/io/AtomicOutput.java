package dev.higgstrt.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
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
 */
public final class AtomicOutput implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private boolean committed;
    private boolean closed;

    private AtomicOutput(Path target, Path temp, FileChannel channel) {
        this.target = target;
        this.temp = temp;
        this.channel = channel;
    }

    /** Opens a temporary file beside {@code target} for writing. */
    public static AtomicOutput create(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        String name = "." + abs.getFileName() + ".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
        Path temp = dir.resolve(name);
        FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new AtomicOutput(abs, temp, ch);
    }

    /** The channel to write to. */
    public FileChannel channel() {
        return channel;
    }

    /** The final path. */
    public Path target() {
        return target;
    }

    /** Forces the data to disk, closes the channel and renames the file to its final name. */
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
