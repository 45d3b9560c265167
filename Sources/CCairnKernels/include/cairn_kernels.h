#ifndef CAIRN_KERNELS_H
#define CAIRN_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Single-precision matrix product on row-major data:
/// C[M×N] = A'[M×K] · B'[K×N] (+ C when `accumulate` is non-zero),
/// where A' is A or its transpose (`transA`), B' likewise (`transB`).
/// `lda`, `ldb`, `ldc` are row strides in elements of the stored matrices.
/// The result is bit-identical for the same inputs on the same machine,
/// whatever the thread timing: the summation order depends only on M, N, K.
void cairn_sgemm(int transA, int transB,
                 int64_t M, int64_t N, int64_t K,
                 const float *A, int64_t lda,
                 const float *B, int64_t ldb,
                 float *C, int64_t ldc,
                 int accumulate);

/// The name of the micro-kernel `cairn_sgemm` dispatches to on this CPU
/// (for benchmarks and bug reports).
const char *cairn_sgemm_kernel_name(void);

#ifdef __cplusplus
}
#endif

#endif
