package dev.higgstrt.quant;

import java.util.List;
import java.util.regex.Pattern;

/**
 * What a conversion quantizes.
 *
 * @param format    the weight format
 * @param exclude   weights whose converted name matches any of these (found anywhere in the
 *                  name, e.g. {@code lm_head}) stay in float
 * @param groupSize inputs per scale of {@link QuantFormat#INT4_GROUP}
 */
public record QuantOptions(QuantFormat format, List<Pattern> exclude, int groupSize) {
    /** No quantization. */
    public static final QuantOptions NONE = new QuantOptions(QuantFormat.NONE, List.of(), QuantFormat.GROUP_SIZE);

    /** Canonical constructor: validates. */
    public QuantOptions {
        exclude = List.copyOf(exclude);
        if (groupSize <= 0 || groupSize % 2 != 0) {
            throw new IllegalArgumentException("group size must be a positive even number, got " + groupSize);
        }
    }

    /** {@code format} with no exclusions and groups of 128. */
    public static QuantOptions of(QuantFormat format) {
        return new QuantOptions(format, List.of(), QuantFormat.GROUP_SIZE);
    }

    /** These options, also excluding names that match {@code regex}. */
    public QuantOptions excluding(String regex) {
        List<Pattern> more = new java.util.ArrayList<>(exclude);
        more.add(Pattern.compile(regex));
        return new QuantOptions(format, more, groupSize);
    }

    /** These options with another group size. */
    public QuantOptions withGroupSize(int size) {
        return new QuantOptions(format, exclude, size);
    }
}
