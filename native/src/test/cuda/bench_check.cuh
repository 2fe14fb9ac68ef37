// CHECK(call): the hand-run benchmarks' way out of a failed CUDA runtime call (file, line, the call
// and the error, then exit 1).
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#define CHECK(x)                                                                                    \
    do {                                                                                            \
        cudaError_t checkError = (x);                                                               \
        if (checkError != cudaSuccess) {                                                            \
            std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(checkError)); \
            std::exit(1);                                                                           \
        }                                                                                           \
    } while (0)
