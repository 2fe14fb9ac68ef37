/**
 * The speech server: OpenAI's speech API ({@code POST /v1/audio/speech}) over the batched
 * runtime and the codec decoder, on Helidon SE's web server (a virtual thread per request). {@link
 * dev.higgstrt.server.SpeechServer} owns the listener and the runtime; {@link
 * dev.higgstrt.server.SpeechBackend} is what it serves; {@link dev.higgstrt.server.VoiceLibrary}
 * the voice presets; {@link dev.higgstrt.server.ServerMetrics} the Prometheus text. Uses the
 * library's {@code runtime}, {@code audio}, {@code generation} and {@code text}.
 */
package dev.higgstrt.server;
