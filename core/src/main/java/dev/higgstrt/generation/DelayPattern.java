package dev.higgstrt.generation;

import java.util.List;

/**
 * Higgs Audio's delay pattern between codec codes and the frames the model reads and writes:
 * codebook k runs k frames behind codebook 0, so a frame holds codebook k's code of step t - k.
 * Both directions are as transformers' {@code HiggsAudioV2Processor} does them.
 */
public final class DelayPattern {
    private DelayPattern() {
    }

    /**
     * Reference codes as the prompt's audio frames: a BOS column and an EOS column added
     * (T + 2 codes a codebook), then delayed: frame j holds codebook k's code j - k, BOS before a
     * codebook's start and EOS after its end, T + 2 + K - 1 frames in all.
     *
     * @param codes     [K][T] codes of each codebook
     * @param streamBos the stream BOS code
     * @param streamEos the stream EOS code
     * @return [T + K + 1][K] frames
     */
    public static int[][] apply(int[][] codes, int streamBos, int streamEos) {
        int k = codes.length;
        int t = codes[0].length + 2;
        int n = t + k - 1;
        int[][] frames = new int[n][k];
        for (int cb = 0; cb < k; cb++) {
            for (int j = 0; j < n; j++) {
                int i = j - cb;
                frames[j][cb] = i < 0 ? streamBos : i >= t ? streamEos : i == 0 ? streamBos : i == t - 1 ? streamEos
                        : codes[cb][i - 1];
            }
        }
        return frames;
    }

    /**
     * Undoes the delay of {@code L} frames: codebook k takes frames {@code [k, L - K + 1 + k)}.
     *
     * @param frames [L][K] frames, L at least K
     * @return [K][L - K + 1] codes
     */
    public static int[][] revert(List<int[]> frames) {
        int l = frames.size();
        int k = frames.isEmpty() ? 0 : frames.getFirst().length;
        int t = l - k + 1;
        if (t <= 0) {
            return new int[k][0];
        }
        int[][] codes = new int[k][t];
        for (int cb = 0; cb < k; cb++) {
            for (int i = 0; i < t; i++) {
                codes[cb][i] = frames.get(cb + i)[cb];
            }
        }
        return codes;
    }

    /**
     * The codes of generated frames as transformers' {@code HiggsAudioV2Processor.batch_decode}
     * hands them to the codec: from the last all-BOS frame, the frames after it up to the first
     * all-EOS frame (or the end), delay reverted, each code clipped to {@code [0, streamBos - 1]}.
     * Like transformers, it looks at the prompt's frames too: where the generated frames hold no
     * all-BOS frame (a prompt whose last ids hold delay tokens opens with both masks on), the codes
     * come from the last all-BOS frame of the prompt's. No all-BOS frame at all gives no codes.
     *
     * @param frames    the prompt's audio frames, then the generated ones
     * @param streamBos the stream BOS code
     * @param streamEos the stream EOS code
     * @return [K][T] codes for the codec (T may be 0)
     */
    public static int[][] codecCodes(List<int[]> frames, int streamBos, int streamEos) {
        int start = -1;
        for (int i = 0; i < frames.size(); i++) {
            if (all(frames.get(i), streamBos)) {
                start = i;
            }
        }
        int k = frames.isEmpty() ? 0 : frames.getFirst().length;
        if (start < 0) {
            return new int[k][0];
        }
        int end = frames.size();
        for (int i = start; i < frames.size(); i++) {
            if (all(frames.get(i), streamEos)) {
                end = i;
                break;
            }
        }
        int[][] codes = revert(frames.subList(start + 1, Math.max(start + 1, end)));
        for (int[] row : codes) {
            for (int i = 0; i < row.length; i++) {
                row[i] = Math.max(0, Math.min(streamBos - 1, row[i]));
            }
        }
        return codes;
    }

    private static boolean all(int[] frame, int code) {
        for (int c : frame) {
            if (c != code) {
                return false;
            }
        }
        return true;
    }
}
