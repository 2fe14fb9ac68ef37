package dev.higgstrt.tensor;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types of tensors, with their safetensors spellings and sizes in bytes.
 */
public enum DType {
    /** IEEE 754 binary64. */
    F64("F64", 8, true),
    /** IEEE 754 binary32. */
    F32("F32", 4, true),
    /** IEEE 754 binary16. */
    F16("F16", 2, true),
    /** bfloat16: the top 16 bits of a binary32. */
    BF16("BF16", 2, true),
    /** FP8 with 4 exponent and 3 mantissa bits (OCP E4M3, finite range ±448). */
    F8_E4M3("F8_E4M3", 1, true),
    /** FP8 with 5 exponent and 2 mantissa bits. */
    F8_E5M2("F8_E5M2", 1, true),
    /** Signed 64-bit integer. */
    I64("I64", 8, false),
    /** Signed 32-bit integer. */
    I32("I32", 4, false),
    /** Signed 16-bit integer. */
    I16("I16", 2, false),
    /** Signed 8-bit integer. */
    I8("I8", 1, false),
    /** Unsigned 8-bit integer. */
    U8("U8", 1, false),
    /** One byte, 0 or 1. */
    BOOL("BOOL", 1, false);

    private final String safetensorsName;
    private final int byteSize;
    private final boolean floatingPoint;

    DType(String safetensorsName, int byteSize, boolean floatingPoint) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    /**
     * The dtype string used in safetensors headers, for example {@code "BF16"}.
     *
     * @return the dtype string used in safetensors headers, for example {@code "BF16"}
     */
    public String safetensorsName() {
        return safetensorsName;
    }

    /**
     * Size of one element in bytes.
     *
     * @return size of one element in bytes
     */
    public int byteSize() {
        return byteSize;
    }

    /**
     * Whether this is a floating-point type.
     *
     * @return whether this is a floating-point type
     */
    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /**
     * The dtype with this safetensors spelling, if known.
     *
     * @param name the name
     * @return the dtype with this safetensors spelling, if known
     */
    public static Optional<DType> fromSafetensorsName(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /**
     * Parses a user-facing dtype name: safetensors spellings ({@code BF16}) and the PyTorch-style
     * names used by TensorRT-LLM ({@code bfloat16}, {@code float16}, {@code float32}).
     *
     * @throws IllegalArgumentException for an unknown name
     * @param name the name
     * @return a user-facing dtype name: safetensors spellings ({@code BF16}) and the PyTorch-style names used by TensorRT-LLM ({@code bfloat16}, {@code float16}, {@code float32})
     */
    public static DType parse(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "bfloat16", "bf16" -> BF16;
            case "float16", "half", "f16", "fp16" -> F16;
            case "float32", "float", "f32", "fp32" -> F32;
            case "float64", "double", "f64" -> F64;
            default -> fromSafetensorsName(name.trim().toUpperCase(Locale.ROOT))
                    .orElseThrow(() -> new IllegalArgumentException("unknown dtype '" + name + "'"));
        };
    }

    /**
     * The TensorRT-LLM / PyTorch name of a floating-point dtype ({@code bfloat16} ...).
     *
     * @return the TensorRT-LLM / PyTorch name of a floating-point dtype ({@code bfloat16} ...)
     */
    public String torchName() {
        return switch (this) {
            case F64 -> "float64";
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F8_E4M3 -> "float8_e4m3fn";
            case F8_E5M2 -> "float8_e5m2";
            case I64 -> "int64";
            case I32 -> "int32";
            case I16 -> "int16";
            case I8 -> "int8";
            case U8 -> "uint8";
            case BOOL -> "bool";
        };
    }
}
