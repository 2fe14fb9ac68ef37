package dev.higgstrt.convert;

/** A source weight holds NaN or infinity, and the conversion was not told to allow it. */
public final class NonFiniteWeightException extends IllegalArgumentException {
    /** Values that are NaN or infinite. */
    private final long count;

    NonFiniteWeightException(String tensor, long count, long total) {
        super(tensor + ": " + count + " of " + total + " values are NaN or infinite; refusing to convert it"
                + " (--allow-nonfinite, ConversionOptions.withNonFiniteAllowed, converts it anyway)");
        this.count = count;
    }

    /**
     * How many values of the tensor are not finite.
     *
     * @return how many values of the tensor are not finite
     */
    public long count() {
        return count;
    }
}
