#include "sgemm_internal.h"

// Plain C, no target attributes: the fallback for CPUs without AVX2/FMA and
// for other architectures. The compiler vectorises the fixed-size loops.
enum { PORTABLE_MR = 4, PORTABLE_NR = 8 };

static void portable_micro(int64_t kc, const float *a, const float *b,
                           float *c, int64_t ldc, int overwrite) {
    float acc[PORTABLE_MR][PORTABLE_NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        const float *ak = a + k * PORTABLE_MR;
        const float *bk = b + k * PORTABLE_NR;
        for (int i = 0; i < PORTABLE_MR; i++) {
            for (int j = 0; j < PORTABLE_NR; j++) {
                acc[i][j] += ak[i] * bk[j];
            }
        }
    }
    for (int i = 0; i < PORTABLE_MR; i++) {
        float *row = c + i * ldc;
        for (int j = 0; j < PORTABLE_NR; j++) {
            row[j] = overwrite ? acc[i][j] : row[j] + acc[i][j];
        }
    }
}

static int portable_is_supported(void) { return 1; }

const cairn_sgemm_kernel_desc cairn_sgemm_portable_kernel = {
    .name = "portable-4x8",
    .mr = PORTABLE_MR,
    .nr = PORTABLE_NR,
    .mc = 128,
    .kc = 256,
    .nc = 2048,
    .micro = portable_micro,
    .is_supported = portable_is_supported,
};
