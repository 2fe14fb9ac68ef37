package dev.higgstrt.model;

/**
 * A hook on the activations entering (and leaving) the linear layers of the reference forward:
 * calibration reads them, quantization simulation rounds the inputs in place. Called from the
 * thread that runs the forward; {@code x} holds {@code rows} rows of {@code width} values.
 */
public interface LinearInputs {
    /** No hook. */
    LinearInputs NONE = (layer, site, x, rows, width) -> { };

    /**
     * The input of {@code site} in {@code layer}, before the product; may be changed in place.
     *
     * @param layer the layer index
     * @param site  the linear layer site
     * @param x     the activations
     * @param rows  the number of rows
     * @param width the values per row
     */
    void input(int layer, LinearSite site, float[] x, int rows, int width);

    /**
     * One output of {@code site} (q, k and v, or gate and up, come one at a time); not to be changed.
     *
     * @param layer the layer index
     * @param site  the linear layer site
     * @param y     the y
     * @param rows  the number of rows
     * @param width the values per row
     */
    default void output(int layer, LinearSite site, float[] y, int rows, int width) {
    }
}
