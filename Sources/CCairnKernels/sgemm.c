#include "cairn_kernels.h"

// Portable reference product; the tuned kernels replace it.
void cairn_sgemm(int transA, int transB,
                 int64_t M, int64_t N, int64_t K,
                 const float *A, int64_t lda,
                 const float *B, int64_t ldb,
                 float *C, int64_t ldc,
                 int accumulate) {
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            float sum = accumulate ? C[i * ldc + j] : 0.0f;
            for (int64_t k = 0; k < K; k++) {
                float a = transA ? A[k * lda + i] : A[i * lda + k];
                float b = transB ? B[j * ldb + k] : B[k * ldb + j];
                sum += a * b;
            }
            C[i * ldc + j] = sum;
        }
    }
}

const char *cairn_sgemm_kernel_name(void) { return "portable-reference"; }
