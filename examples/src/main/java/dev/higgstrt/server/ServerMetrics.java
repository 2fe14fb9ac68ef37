package dev.higgstrt.server;

import dev.higgstrt.runtime.RuntimeMetrics;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The server's counts, and the runtime's, as Prometheus text: requests by status, requests in
 * flight, frames, frames a second over the last 10 s, queue, running sequences and batch
 * occupancy, KV blocks, step time, and time to first audio (quantiles over the last 1,024 speech
 * requests that sent audio).
 */
final class ServerMetrics {
    private final Map<Integer, LongAdder> byStatus = new ConcurrentHashMap<>();
    private final AtomicLong inFlight = new AtomicLong();
    private final long[] ttfa = new long[1024];
    private long ttfaCount;
    private double ttfaSum;
    private final long[] frameWindow = new long[2];   // frames, nanoTime at the window's start
    private double framesPerSecond;

    void started() {
        inFlight.incrementAndGet();
    }

    void ended(int status) {
        inFlight.decrementAndGet();
        byStatus.computeIfAbsent(status, s -> new LongAdder()).increment();
    }

    long inFlight() {
        return inFlight.get();
    }

    synchronized void firstAudio(long nanos) {
        ttfa[(int) (ttfaCount % ttfa.length)] = nanos;
        ttfaCount++;
        ttfaSum += nanos / 1e9;
    }

    /** The quantile q of the recorded times to first audio, in seconds (NaN before any). */
    synchronized double ttfaQuantile(double q) {
        int n = (int) Math.min(ttfaCount, ttfa.length);
        if (n == 0) {
            return Double.NaN;
        }
        long[] sorted = Arrays.copyOf(ttfa, n);
        Arrays.sort(sorted);
        return sorted[Math.min(n - 1, (int) Math.floor(q * n))] / 1e9;
    }

    /** Frames a second: over the last whole 10 s window, or since the window began when that is over 1 s. */
    private synchronized double framesPerSecond(long frames) {
        long now = System.nanoTime();
        if (frameWindow[1] == 0) {
            frameWindow[0] = frames;
            frameWindow[1] = now;
            return 0;
        }
        double elapsed = (now - frameWindow[1]) / 1e9;
        if (elapsed >= 10) {
            framesPerSecond = (frames - frameWindow[0]) / elapsed;
            frameWindow[0] = frames;
            frameWindow[1] = now;
        } else if (elapsed >= 1 && frames > frameWindow[0]) {
            framesPerSecond = (frames - frameWindow[0]) / elapsed;
        }
        return framesPerSecond;
    }

    String prometheus(RuntimeMetrics r) {
        StringBuilder b = new StringBuilder();
        type(b, "higgs_requests_total", "counter", "Speech API requests ended, by HTTP status.");
        byStatus.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e ->
                b.append("higgs_requests_total{status=\"").append(e.getKey()).append("\"} ").append(e.getValue().sum()).append('\n'));
        gauge(b, "higgs_requests_in_flight", "Requests being answered now.", inFlight.get());
        type(b, "higgs_frames_total", "counter", "Audio frames generated (25 a second of audio).");
        b.append("higgs_frames_total ").append(r.frames()).append('\n');
        gauge(b, "higgs_frames_per_second", "Frames generated a second over the last 10 s window.", framesPerSecond(r.frames()));
        gauge(b, "higgs_queue_length", "Requests waiting for admission.", r.queued());
        gauge(b, "higgs_running_sequences", "Sequences being generated.", r.running());
        gauge(b, "higgs_batch_occupancy", "Running sequences over the most that run together.", r.occupancy());
        gauge(b, "higgs_kv_blocks_used", "KV-cache blocks held by running sequences.", r.kvBlocksUsed());
        gauge(b, "higgs_kv_blocks_total", "KV-cache blocks in all.", r.kvBlocksTotal());
        gauge(b, "higgs_step_seconds", "The last runtime step's time.", r.lastStepNanos() / 1e9);
        gauge(b, "higgs_last_batch_size", "Sequences in the last step.", r.lastBatch());
        type(b, "higgs_generations_total", "counter", "Generations ended, by outcome.");
        b.append("higgs_generations_total{outcome=\"completed\"} ").append(r.completed()).append('\n');
        b.append("higgs_generations_total{outcome=\"cancelled\"} ").append(r.cancelled()).append('\n');
        b.append("higgs_generations_total{outcome=\"failed\"} ").append(r.failed()).append('\n');
        b.append("higgs_generations_total{outcome=\"rejected\"} ").append(r.rejected()).append('\n');
        type(b, "higgs_time_to_first_audio_seconds", "summary", "From a speech request's arrival to its first audio bytes.");
        for (double q : new double[]{0.5, 0.9, 0.99}) {
            b.append("higgs_time_to_first_audio_seconds{quantile=\"").append(q).append("\"} ").append(format(ttfaQuantile(q))).append('\n');
        }
        synchronized (this) {
            b.append("higgs_time_to_first_audio_seconds_sum ").append(format(ttfaSum)).append('\n');
            b.append("higgs_time_to_first_audio_seconds_count ").append(ttfaCount).append('\n');
        }
        return b.toString();
    }

    private static void type(StringBuilder b, String name, String type, String help) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, double value) {
        type(b, name, "gauge", help);
        b.append(name).append(' ').append(format(value)).append('\n');
    }

    private static String format(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }
}
