package dev.higgstrt.quant;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * What a conversion quantizes.
 *
 * @param format      the weight format
 * @param exclude     weights whose converted name matches any of these (found anywhere in the
 *                    name, e.g. {@code lm_head}) stay in float
 * @param groupSize   inputs per scale of {@link QuantFormat#INT4_GROUP}
 * @param smoothing   SmoothQuant's settings: required by the SmoothQuant formats; with
 *                    {@link QuantFormat#NONE}, the smoothing is folded in and nothing is rounded
 *                    (a float model of the same function, for verification)
 * @param activations for {@link QuantFormat#FP8} only: the calibration that gives each decoder
 *                    linear its static {@code activation_scaling_factor} ({@code max|x| / 448});
 *                    without it, FP8 weights come with no activation scales
 */
public record QuantOptions(QuantFormat format, List<Pattern> exclude, int groupSize,
                           Optional<SmoothQuant.Settings> smoothing, Optional<Calibration> activations) {
    /** No quantization. */
    public static final QuantOptions NONE = new QuantOptions(QuantFormat.NONE, List.of(), QuantFormat.GROUP_SIZE);

    /**
     * Options without smoothing or activation calibration.
     *
     * @param format    the format
     * @param exclude   the exclude
     * @param groupSize the group size
     */
    public QuantOptions(QuantFormat format, List<Pattern> exclude, int groupSize) {
        this(format, exclude, groupSize, Optional.empty(), Optional.empty());
    }

    /**
     * Options without activation calibration.
     *
     * @param format    the format
     * @param exclude   the exclude
     * @param groupSize the group size
     * @param smoothing the smoothing
     */
    public QuantOptions(QuantFormat format, List<Pattern> exclude, int groupSize, Optional<SmoothQuant.Settings> smoothing) {
        this(format, exclude, groupSize, smoothing, Optional.empty());
    }

    /** Canonical constructor: validates. */
    public QuantOptions {
        exclude = List.copyOf(exclude);
        if (groupSize <= 0 || groupSize % 2 != 0) {
            throw new IllegalArgumentException("group size must be a positive even number, got " + groupSize);
        }
        if (format.isSmoothQuant() && smoothing.isEmpty()) {
            throw new IllegalArgumentException(format.id() + " needs activation statistics (calibration inputs or a statistics file)");
        }
        if (smoothing.isPresent() && format != QuantFormat.NONE && !format.isSmoothQuant()) {
            throw new IllegalArgumentException("smoothing goes with sq, sq_per_tensor or a fold-only conversion, not " + format.id());
        }
        if (activations.isPresent() && format != QuantFormat.FP8) {
            throw new IllegalArgumentException("activation scales from a calibration go with fp8 (SmoothQuant takes its "
                    + "statistics through its settings), not " + format.id());
        }
    }

    /**
     * {@code format} with no exclusions and groups of 128.
     *
     * @param format the format
     * @return {@code format} with no exclusions and groups of 128
     */
    public static QuantOptions of(QuantFormat format) {
        return new QuantOptions(format, List.of(), QuantFormat.GROUP_SIZE);
    }

    /**
     * These options, also excluding names that match {@code regex}.
     *
     * @param regex a regular expression
     * @return these options, also excluding names that match {@code regex}
     */
    public QuantOptions excluding(String regex) {
        List<Pattern> more = new ArrayList<>(exclude);
        more.add(Pattern.compile(regex));
        return new QuantOptions(format, more, groupSize, smoothing, activations);
    }

    /**
     * These options with another group size.
     *
     * @param size the size
     * @return these options with another group size
     */
    public QuantOptions withGroupSize(int size) {
        return new QuantOptions(format, exclude, size, smoothing, activations);
    }

    /**
     * These options with SmoothQuant's settings.
     *
     * @param settings the settings
     * @return these options with SmoothQuant's settings
     */
    public QuantOptions withSmoothing(SmoothQuant.Settings settings) {
        return new QuantOptions(format, exclude, groupSize, Optional.of(settings), activations);
    }

    /**
     * These options with static activation scales from {@code calibration} ({@link QuantFormat#FP8}).
     *
     * @param calibration the calibration
     * @return these options with static activation scales
     */
    public QuantOptions withActivations(Calibration calibration) {
        return new QuantOptions(format, exclude, groupSize, smoothing, Optional.of(calibration));
    }
}
