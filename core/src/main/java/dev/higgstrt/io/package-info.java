/**
 * File output that never leaves a partial file: {@link dev.higgstrt.io.AtomicOutput} (a temporary
 * renamed when complete, direct I/O where the file system allows it), {@link
 * dev.higgstrt.io.WriteBehind}, {@link dev.higgstrt.io.OutputLock} (one writer an output) and the
 * JSON mappers the parsers share. Uses no other package of the library.
 */
package dev.higgstrt.io;
