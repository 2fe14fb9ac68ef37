/**
 * The text tokenizer of a checkpoint: {@link dev.higgstrt.text.TextTokenizer}, and its
 * implementation over {@code tokenizer.json} by the Hugging Face tokenizers library ({@link
 * dev.higgstrt.text.HuggingFaceTextTokenizer}). Uses {@code io} only.
 */
package dev.higgstrt.text;
