package dev.higgstrt.trt.tensorrt;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** TensorRT's severities and the builder's skipped-tactic notes, filed without TensorRT. */
class TrtMessagesTest {
    @Test
    void severitiesMapToLevelsAndSkippedTacticsAreNotErrors() {
        assertThat(TrtMessages.level(0, "Assertion failed: x")).isEqualTo(TrtMessages.Level.ERROR);
        assertThat(TrtMessages.level(1, "IBuilder::buildSerializedNetwork: Error Code 4: Internal Error"))
                .isEqualTo(TrtMessages.Level.ERROR);
        assertThat(TrtMessages.level(1,
                "Error Code 9: Skipping tactic 0x00000000000003ea due to exception Unsupported data type Bool."))
                .isEqualTo(TrtMessages.Level.DEBUG);
        // another code, or the words elsewhere in the message, stays an error
        assertThat(TrtMessages.level(1, "Error Code 2: Skipping tactic 0x1 due to exception out of memory"))
                .isEqualTo(TrtMessages.Level.ERROR);
        assertThat(TrtMessages.level(1, "layer 3: Error Code 9: Skipping tactic 0x1")).isEqualTo(TrtMessages.Level.ERROR);
        assertThat(TrtMessages.level(1, null)).isEqualTo(TrtMessages.Level.ERROR);
        assertThat(TrtMessages.level(2, "Error Code 9: Skipping tactic 0x1")).isEqualTo(TrtMessages.Level.WARN);
        assertThat(TrtMessages.level(3, "build done")).isEqualTo(TrtMessages.Level.DEBUG);
        assertThat(TrtMessages.level(4, "verbose")).isEqualTo(TrtMessages.Level.TRACE);
    }
}
