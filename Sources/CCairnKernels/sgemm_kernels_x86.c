#include "sgemm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

// Each kernel keeps its whole C tile in vector registers for the kc loop and
// touches C once at the end, so the summation order of every element is the
// fixed k order inside one packed block.

enum { AVX2_MR = 6, AVX2_NR = 16 };

__attribute__((target("avx2,fma")))
static void avx2_micro(int64_t kc, const float *a, const float *b,
                       float *c, int64_t ldc, int overwrite) {
    __m256 acc[AVX2_MR][2];
    for (int i = 0; i < AVX2_MR; i++) {
        acc[i][0] = _mm256_setzero_ps();
        acc[i][1] = _mm256_setzero_ps();
    }
    for (int64_t k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(b);
        __m256 b1 = _mm256_load_ps(b + 8);
        for (int i = 0; i < AVX2_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX2_MR;
        b += AVX2_NR;
    }
    for (int i = 0; i < AVX2_MR; i++) {
        float *row = c + i * ldc;
        if (!overwrite) {
            acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(row), acc[i][0]);
            acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[i][1]);
        }
        _mm256_storeu_ps(row, acc[i][0]);
        _mm256_storeu_ps(row + 8, acc[i][1]);
    }
}

static int avx2_is_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const cairn_sgemm_kernel_desc cairn_sgemm_avx2_kernel = {
    .name = "avx2-fma-6x16",
    .mr = AVX2_MR,
    .nr = AVX2_NR,
    .mc = 120,
    .kc = 256,
    .nc = 2048,
    .micro = avx2_micro,
    .is_supported = avx2_is_supported,
};

enum { AVX512_MR = 12, AVX512_NR = 32 };

__attribute__((target("avx512f")))
static void avx512_micro(int64_t kc, const float *a, const float *b,
                         float *c, int64_t ldc, int overwrite) {
    __m512 acc[AVX512_MR][2];
    for (int i = 0; i < AVX512_MR; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b);
        __m512 b1 = _mm512_load_ps(b + 16);
        for (int i = 0; i < AVX512_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX512_MR;
        b += AVX512_NR;
    }
    for (int i = 0; i < AVX512_MR; i++) {
        float *row = c + i * ldc;
        if (!overwrite) {
            acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(row), acc[i][0]);
            acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(row + 16), acc[i][1]);
        }
        _mm512_storeu_ps(row, acc[i][0]);
        _mm512_storeu_ps(row + 16, acc[i][1]);
    }
}

static int avx512_is_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

const cairn_sgemm_kernel_desc cairn_sgemm_avx512_kernel = {
    .name = "avx512f-12x32",
    .mr = AVX512_MR,
    .nr = AVX512_NR,
    .mc = 120,
    .kc = 256,
    .nc = 2048,
    .micro = avx512_micro,
    .is_supported = avx512_is_supported,
};

#endif
