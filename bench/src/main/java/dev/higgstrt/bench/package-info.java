/**
 * Benchmarks run by the scripts in bench/ and scripts/; their results are in docs/performance.md.
 */
package dev.higgstrt.bench;
