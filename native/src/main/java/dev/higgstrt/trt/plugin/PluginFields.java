package dev.higgstrt.trt.plugin;

import dev.higgstrt.trt.tensorrt.TrtObjects;
import dev.higgstrt.trt.tensorrt.TrtException;

import org.bytedeco.tensorrt.global.nvinfer.TensorRTPhase;
import org.bytedeco.tensorrt.nvinfer.IPluginCreatorV3One;
import org.bytedeco.tensorrt.nvinfer.IPluginV3;
import org.bytedeco.tensorrt.nvinfer.PluginFieldCollection;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;

/**
 * TensorRT's {@code PluginField} and {@code PluginFieldCollection} structs written with the FFM
 * API (the presets' setters cannot point a field's name at memory the caller keeps alive).
 * Layouts: {@code {char const* name; void const* data; int32 type; int32 length}} and
 * {@code {int32 nbFields; PluginField const* fields}}.
 */
public final class PluginFields {
    static final int FLOAT32 = 1;
    static final int INT32 = 5;

    static final StructLayout FIELD = MemoryLayout.structLayout(ValueLayout.ADDRESS.withName("name"),
            ValueLayout.ADDRESS.withName("data"), ValueLayout.JAVA_INT.withName("type"),
            ValueLayout.JAVA_INT.withName("length"));
    static final StructLayout COLLECTION = MemoryLayout.structLayout(ValueLayout.JAVA_INT.withName("nbFields"),
            MemoryLayout.paddingLayout(4), ValueLayout.ADDRESS.withName("fields"));

    private PluginFields() {
    }

    /** One field of one value: {@code data} holds it. */
    static MemorySegment field(Arena arena, String name, MemorySegment data, int type) {
        return field(arena, name, data, type, 1);
    }

    /** One field of {@code length} values of {@code type}: {@code data} holds them. */
    static MemorySegment field(Arena arena, String name, MemorySegment data, int type, int length) {
        MemorySegment f = arena.allocate(FIELD);
        f.set(ValueLayout.ADDRESS, 0, arena.allocateFrom(name));
        f.set(ValueLayout.ADDRESS, 8, data);
        f.set(ValueLayout.JAVA_INT, 16, type);
        f.set(ValueLayout.JAVA_INT, 20, length);
        return f;
    }

    /** A collection over copies of {@code fields}, in order. */
    static MemorySegment of(Arena arena, MemorySegment... fields) {
        MemorySegment array = arena.allocate(FIELD, fields.length);
        for (int i = 0; i < fields.length; i++) {
            MemorySegment.copy(fields[i], 0, array, i * FIELD.byteSize(), FIELD.byteSize());
        }
        MemorySegment c = arena.allocate(COLLECTION);
        c.set(ValueLayout.JAVA_INT, 0, fields.length);
        c.set(ValueLayout.ADDRESS, 8, array);
        return c;
    }

    /** The plugin creator at the address a plugin library's C entry point returned. */
    static IPluginCreatorV3One creatorAt(com.sun.jna.Pointer address) {
        return new IPluginCreatorV3One(TrtObjects.address(MemorySegment.ofAddress(com.sun.jna.Pointer.nativeValue(address))));
    }

    /**
     * A build-phase plugin instance from {@code creator} with the collection {@code fields} (see
     * {@link #of}), or a {@link TrtException} naming {@code what} and {@code lastError}'s message.
     */
    static IPluginV3 create(IPluginCreatorV3One creator, String name, MemorySegment fields, String what,
                            java.util.function.Supplier<String> lastError) {
        IPluginV3 plugin = creator.createPlugin(name, new PluginFieldCollection(TrtObjects.address(fields)), TensorRTPhase.kBUILD);
        if (plugin == null || plugin.isNull()) {
            throw new TrtException("creating the " + what + " plugin failed: " + lastError.get());
        }
        return plugin;
    }

    /** A plugin's last error message, read through {@code read(buffer, capacity)}; empty when none. */
    static String lastError(java.util.function.ObjIntConsumer<byte[]> read) {
        byte[] message = new byte[2048];
        read.accept(message, message.length);
        return cString(message);
    }

    /**
     * " (WHAT plugin: error)" for an error message, "" for an empty one: a note for exception messages.
     *
     * @param what  the what
     * @param error the error
     * @return the note, or "" for no error
     */
    public static String errorNote(String what, String error) {
        return error.isEmpty() ? "" : " (" + what + " plugin: " + error + ")";
    }

    /** The NUL-terminated UTF-8 string at the start of {@code bytes}. */
    static String cString(byte[] bytes) {
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) {
            n++;
        }
        return new String(bytes, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }
}
