package dev.higgstrt.trt.engine;

import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.runtime.BatchDecoder;

import java.util.Arrays;
import java.util.List;

/**
 * The packed inputs of one paged-engine step: the new tokens of every sequence of the step in turn,
 * no padding, each sequence's tokens together at consecutive positions (the promise the engine's
 * attention plugins are built with: {@code PagedAttentionPlugin.Geometry#consecutive}). A
 * sequence's audio frames fill its audio positions in order; text positions get no codes (zeros).
 * The block tables are rows of {@code blocksPerSequence} entries, zero past a
 * sequence's own. Packed in Java arrays, one bulk copy each to the device afterwards: a long
 * prompt's step may come before the JIT has compiled this loop, and with a segment write per
 * element the packing of a 512-position prefill took 0.73 ms on the H200 machine's host.
 *
 * @param ids        the input id of each token (0 for a sequence given as frames alone)
 * @param codes      {@code numCodebooks} codes a token
 * @param mask       1 where the token is an audio frame
 * @param positions  each token's position in its sequence
 * @param slots      each token's sequence, as its row in the step
 * @param tables     the block table rows, one a sequence
 * @param last       each sequence's last token in the packed order
 * @param textTokens how many tokens are text
 */
record StepInputs(int[] ids, int[] codes, byte[] mask, int[] positions, int[] slots, int[] tables, int[] last,
                  int textTokens) {

    /**
     * Packs the entries of {@code batch} at the indices {@code run}, in that order.
     *
     * @param batch             the step's entries
     * @param run               which of them run (already checked), in order
     * @param tokens            their tokens in all
     * @param c                 the model's config: its audio token ids and codebooks
     * @param blocksPerSequence the width of a block-table row
     * @return the packed inputs
     */
    static StepInputs pack(List<BatchDecoder.Work> batch, List<Integer> run, int tokens, HiggsAudioConfig c,
                           int blocksPerSequence) {
        int s = run.size();
        int k = c.numCodebooks();
        int m = blocksPerSequence;
        int[] ids = new int[tokens];
        int[] codes = new int[tokens * k];
        byte[] mask = new byte[tokens];
        int[] positions = new int[tokens];
        int[] slots = new int[tokens];
        int[] tables = new int[s * m];
        int[] last = new int[s];
        int token = 0;
        int textTokens = 0;
        for (int slot = 0; slot < s; slot++) {
            BatchDecoder.Work w = batch.get(run.get(slot));
            TokenInput in = w.tokens();
            int n = in.length();
            int[] inputIds = in.inputIds();
            int[][] frames = in.audioFrames();
            if (inputIds != null) {
                System.arraycopy(inputIds, 0, ids, token, n);
            }
            boolean[] audio = EngineSession.audioMask(c, in);
            int frame = 0;
            for (int i = 0; i < n; i++) {
                if (audio[i]) {
                    System.arraycopy(frames[frame++], 0, codes, (token + i) * k, k);
                    mask[token + i] = 1;
                } else {
                    textTokens++;
                }
                positions[token + i] = w.past() + i;
            }
            Arrays.fill(slots, token, token + n, slot);
            System.arraycopy(w.blockTable(), 0, tables, slot * m, w.blockTable().length);
            token += n;
            last[slot] = token - 1;
        }
        if (token != tokens) {
            throw new IllegalArgumentException(token + " tokens in the entries, " + tokens + " expected");
        }
        return new StepInputs(ids, codes, mask, positions, slots, tables, last, textTokens);
    }
}
