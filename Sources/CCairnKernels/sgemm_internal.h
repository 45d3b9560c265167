#ifndef CAIRN_SGEMM_INTERNAL_H
#define CAIRN_SGEMM_INTERNAL_H

#include <stdint.h>

// A micro-kernel computes one MR×NR tile of C from a packed A micro-panel
// (kc steps of MR floats) and a packed B micro-panel (kc steps of NR floats).
// `overwrite` non-zero stores the tile into C; zero adds it to C.
// `c` is row-major with row stride `ldc`; kc is at least 1.
typedef void (*cairn_micro_kernel)(int64_t kc, const float *a, const float *b,
                                   float *c, int64_t ldc, int overwrite);

// One selectable kernel with the cache-block sizes it was tuned with.
typedef struct {
    const char *name;
    int mr;
    int nr;
    int64_t mc; // rows of A packed at once (multiple of mr), sized for L2
    int64_t kc; // depth of one packed block, sized so micro-panels sit in L1
    int64_t nc; // columns of B packed at once (multiple of nr)
    cairn_micro_kernel micro;
    int (*is_supported)(void);
} cairn_sgemm_kernel_desc;

extern const cairn_sgemm_kernel_desc cairn_sgemm_portable_kernel;
#if defined(__x86_64__)
extern const cairn_sgemm_kernel_desc cairn_sgemm_avx2_kernel;
extern const cairn_sgemm_kernel_desc cairn_sgemm_avx512_kernel;
#endif

#endif
