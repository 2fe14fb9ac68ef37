/**
 * The smoke check of an engine, single or parallel, against the CPU reference: errors against the
 * dtype's bound, and the speed.
 */
package dev.higgstrt.trt.smoke;
