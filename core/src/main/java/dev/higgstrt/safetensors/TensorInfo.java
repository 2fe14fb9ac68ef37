package dev.higgstrt.safetensors;

import dev.higgstrt.tensor.DType;
import dev.higgstrt.tensor.Shape;

/**
 * One validated entry of a safetensors header.
 *
 * @param name      tensor name
 * @param dtype     element type
 * @param shape     shape
 * @param begin     start of the data, relative to the data region (after the header)
 * @param end       end of the data (exclusive), relative to the data region
 */
public record TensorInfo(String name, DType dtype, Shape shape, long begin, long end) {
    /**
     * Size of the data in bytes.
     *
     * @return size of the data in bytes
     */
    public long byteSize() {
        return end - begin;
    }
}
