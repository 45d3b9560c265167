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

/// How many micro-kernels this build contains (the portable one is index 0).
int cairn_sgemm_kernel_count(void);

/// The name of kernel `index`, or NULL when `index` is out of range.
const char *cairn_sgemm_kernel_name_at(int index);

/// Non-zero when this CPU can run kernel `index`.
int cairn_sgemm_kernel_is_supported(int index);

/// `cairn_sgemm` on kernel `index` instead of the dispatched one, so tests
/// and benchmarks can check every kernel the CPU runs. Returns 0, or -1
/// without touching C when the kernel is out of range or unsupported here.
int cairn_sgemm_using_kernel(int index, int transA, int transB,
                             int64_t M, int64_t N, int64_t K,
                             const float *A, int64_t lda,
                             const float *B, int64_t ldb,
                             float *C, int64_t ldc,
                             int accumulate);

#ifdef __cplusplus
}
#endif

#endif
