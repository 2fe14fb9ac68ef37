package dev.higgstrt.trt.engine;

import dev.higgstrt.decoding.TokenInput;
import dev.higgstrt.model.HiggsAudioConfig;
import dev.higgstrt.runtime.BatchDecoder;
import dev.higgstrt.synth.Presets;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** How a paged step packs its sequences' tokens, without a GPU. */
class StepInputsTest {
    private static final HiggsAudioConfig C = Presets.tiny();   // 4 codebooks, audio token ids 381 and 382
    private static final int AUDIO = C.audioTokenIds().get(0);
    private static final int OTHER_AUDIO = C.audioTokenIds().get(1);

    @Test
    void packsTextAudioAndFramesOnlySequencesInTurnWithoutPadding() {
        // a prompt continuing at position 5 (text, audio, text, audio) and a sequence decoding one frame at 10
        TokenInput prompt = new TokenInput(new int[]{11, AUDIO, 12, OTHER_AUDIO}, new int[][]{{1, 2, 3, 4}, {5, 6, 7, 8}});
        TokenInput frame = TokenInput.audio(new int[]{9, 10, 11, 12});
        List<BatchDecoder.Work> batch = List.of(
                new BatchDecoder.Work(40, frame, 10, new int[]{6}),
                new BatchDecoder.Work(41, prompt, 5, new int[]{3, 4}));
        // the step runs entry 1, then entry 0
        StepInputs in = StepInputs.pack(batch, List.of(1, 0), 5, C, 3);

        assertThat(in.ids()).containsExactly(11, AUDIO, 12, OTHER_AUDIO, 0);
        assertThat(in.codes()).containsExactly(0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8, 9, 10, 11, 12);
        assertThat(in.mask()).containsExactly(0, 1, 0, 1, 1);
        assertThat(in.positions()).containsExactly(5, 6, 7, 8, 10);
        assertThat(in.slots()).containsExactly(0, 0, 0, 0, 1);
        assertThat(in.tables()).containsExactly(3, 4, 0, 6, 0, 0);
        assertThat(in.last()).containsExactly(3, 4);
        assertThat(in.textTokens()).isEqualTo(2);
    }

    // also the promise of the attention plugin's consecutive field: a sequence's tokens are one run of positions
    @Test
    void everyTokenLandsWhereItsSequenceAndPositionSay() {
        Random r = new Random(7);
        int k = C.numCodebooks();
        int m = 4;
        List<BatchDecoder.Work> batch = new ArrayList<>();
        int tokens = 0;
        for (int s = 0; s < 6; s++) {
            int n = 1 + r.nextInt(9);
            int[] ids = new int[n];
            int audio = 0;
            for (int i = 0; i < n; i++) {
                ids[i] = r.nextBoolean() ? C.audioTokenIds().get(r.nextInt(2)) : r.nextInt(AUDIO);
                audio += C.audioTokenIds().contains(ids[i]) ? 1 : 0;
            }
            int[][] frames = new int[audio][k];
            for (int[] f : frames) {
                for (int j = 0; j < k; j++) {
                    f[j] = 1 + r.nextInt(30);
                }
            }
            batch.add(new BatchDecoder.Work(s, new TokenInput(ids, frames), r.nextInt(50), new int[]{s, s + 10}));
            tokens += n;
        }
        List<Integer> run = List.of(5, 3, 1, 0, 2, 4);
        StepInputs in = StepInputs.pack(batch, run, tokens, C, m);

        int t = 0;
        int text = 0;
        for (int slot = 0; slot < run.size(); slot++) {
            BatchDecoder.Work w = batch.get(run.get(slot));
            int frame = 0;
            for (int i = 0; i < w.tokens().length(); i++, t++) {
                int id = w.tokens().inputIds()[i];
                boolean audio = C.audioTokenIds().contains(id);
                assertThat(in.ids()[t]).isEqualTo(id);
                assertThat(in.mask()[t]).isEqualTo((byte) (audio ? 1 : 0));
                assertThat(in.positions()[t]).isEqualTo(w.past() + i);
                assertThat(in.slots()[t]).isEqualTo(slot);
                int[] codes = Arrays.copyOfRange(in.codes(), t * k, t * k + k);
                assertThat(codes).isEqualTo(audio ? w.tokens().audioFrames()[frame++] : new int[k]);
                text += audio ? 0 : 1;
            }
            assertThat(in.last()[slot]).isEqualTo(t - 1);
            assertThat(Arrays.copyOfRange(in.tables(), slot * m, slot * m + m))
                    .containsExactly(w.blockTable()[0], w.blockTable()[1], 0, 0);
        }
        assertThat(t).isEqualTo(tokens);
        assertThat(in.textTokens()).isEqualTo(text);
    }

    @Test
    void refusesATokenCountThatIsNotTheEntriesOwn() {
        List<BatchDecoder.Work> batch = List.of(new BatchDecoder.Work(1, TokenInput.text(3, 4), 0, new int[]{0}));
        assertThatThrownBy(() -> StepInputs.pack(batch, List.of(0), 3, C, 1))
                .hasMessage("2 tokens in the entries, 3 expected");
    }
}
