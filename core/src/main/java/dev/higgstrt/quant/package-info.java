/**
 * Weight quantization (INT8/INT4 weight-only, group-wise INT4, FP8) and SmoothQuant for the dual-
 * FFN layer, with the activation statistics and calibration they need. Pure functions of weights
 * and statistics; reading a converted checkpoint is the {@code converted} package's job.
 */
package dev.higgstrt.quant;
