package dev.higgstrt.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * An exclusive claim on an output path for one writer at a time, held as an OS file lock on
 * {@code .NAME.lock} beside it. The lock file is removed when the claim is closed. A lock file
 * left by a killed writer holds no lock, so the next writer takes it over. Because a waiting
 * writer may lock a file that its holder has just removed, a writer checks after locking that the
 * path still names the file it locked (a random token written through its channel reads back
 * from the path), and tries again otherwise.
 */
public final class OutputLock implements AutoCloseable {
    private static final int ATTEMPTS = 16;
    private final Path lockFile;
    private final FileChannel channel;
    private final FileLock lock;
    private boolean closed;

    private OutputLock(Path lockFile, FileChannel channel, FileLock lock) {
        this.lockFile = lockFile;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Where the lock of an output lies.
     *
     * @param output the file or folder to be written
     * @return the lock file's path for {@code output}: {@code .NAME.lock} in the same folder
     */
    public static Path lockFileOf(Path output) {
        Path abs = output.toAbsolutePath();
        return abs.getParent().resolve("." + abs.getFileName() + ".lock");
    }

    /**
     * Claims {@code output} without waiting.
     *
     * @param output the file or folder about to be written
     * @return the claim, to be closed when the writing is done
     * @throws IOException when another writer holds it, or when nothing can be written beside
     *                     {@code output} (the message names {@code output}, not the lock file)
     */
    public static OutputLock acquire(Path output) throws IOException {
        Path lockFile = lockFileOf(output);
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            FileChannel ch;
            try {
                ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw new IOException(output + ": cannot write there (" + reason(e) + ")", e);
            }
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;   // held by this process
            } catch (IOException e) {
                ch.close();
                throw new IOException(output + ": cannot lock it for writing (" + reason(e) + ")", e);
            }
            if (lock == null) {
                ch.close();
                throw new IOException("another conversion is writing " + output + " (it holds " + lockFile.getFileName()
                        + "); wait for it or choose another output");
            }
            byte[] token = (HexFormat.of().formatHex(longBytes(ThreadLocalRandom.current().nextLong())) + " "
                    + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII);
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(token), 0);
            byte[] onDisk;
            try {
                onDisk = Files.readAllBytes(lockFile);
            } catch (NoSuchFileException e) {
                onDisk = null;
            }
            if (Arrays.equals(token, onDisk)) {
                return new OutputLock(lockFile, ch, lock);
            }
            lock.release();
            ch.close();
        }
        throw new IOException(output + ": could not take its lock (" + lockFile.getFileName() + " kept changing)");
    }

    private static byte[] longBytes(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    private static String reason(IOException e) {
        return switch (e) {
            case NoSuchFileException n -> "its folder does not exist";
            case java.nio.file.AccessDeniedException a -> "permission denied";
            case java.nio.file.FileSystemException f when f.getReason() != null -> f.getReason();
            case java.nio.file.FileSystemException f -> f.getClass().getSimpleName();
            default -> e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        };
    }

    /** Removes the lock file and releases the lock. Idempotent. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Files.deleteIfExists(lockFile);   // while still held, so no writer can lock a file about to vanish unnoticed
        } finally {
            try {
                lock.release();
            } finally {
                channel.close();
            }
        }
    }
}
