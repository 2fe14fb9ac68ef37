/**
 * The safetensors format: a validating, memory-mapping reader, sharded checkpoints with their
 * index, and a streaming writer. Uses {@code tensor}, {@code io} and {@code weights}.
 */
package dev.higgstrt.safetensors;
