#include "cairn_kernels.h"
#include "sgemm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Blocked product in the Goto/BLIS style: B is packed kc×nc at a time into
// nr-wide column panels, A mc×kc at a time into mr-tall row panels, and the
// micro-kernel multiplies one A panel by one B panel. Transposes are absorbed
// by the packing, so the micro-kernels see one layout only. Everything runs
// on the calling thread with block sizes fixed per kernel, which makes the
// summation order a function of M, N, K and the kernel alone.

static const cairn_sgemm_kernel_desc *const all_kernels[] = {
    &cairn_sgemm_portable_kernel,
#if defined(__x86_64__)
    &cairn_sgemm_avx2_kernel,
    &cairn_sgemm_avx512_kernel,
#endif
};
enum { KERNEL_COUNT = sizeof(all_kernels) / sizeof(all_kernels[0]) };

// Preference order when several kernels run on this CPU (see the DocC
// article for the measurements behind it).
static const cairn_sgemm_kernel_desc *best_kernel(void) {
#if defined(__x86_64__)
    if (cairn_sgemm_avx512_kernel.is_supported()) return &cairn_sgemm_avx512_kernel;
    if (cairn_sgemm_avx2_kernel.is_supported()) return &cairn_sgemm_avx2_kernel;
#endif
    return &cairn_sgemm_portable_kernel;
}

static int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t value, int64_t step) { return (value + step - 1) / step * step; }

// Packs a width × depth block of A' or B' into panels `panel` wide, each
// stored depth-major (panel[k * panel + w]) and zero-padded past `width`.
// Element (w, k) of the block lives at src[k * ld + w] when the stored matrix
// runs along the width (A transposed, B as is) and at src[w * ld + k] when it
// runs along the depth (A as is, B transposed).
static void pack_panels(const float *src, int64_t ld, int runs_along_width,
                        int64_t width, int64_t depth, int panel, float *packed) {
    for (int64_t w0 = 0; w0 < width; w0 += panel) {
        const int64_t filled = min_i64(panel, width - w0);
        float *dst = packed + w0 * depth;
        if (runs_along_width) {
            // memcpy/memset keep packing quick even at -O0 (debug builds).
            for (int64_t k = 0; k < depth; k++) {
                memcpy(dst + k * panel, src + k * ld + w0, (size_t)filled * sizeof(float));
                memset(dst + k * panel + filled, 0, (size_t)(panel - filled) * sizeof(float));
            }
        } else {
            for (int64_t w = 0; w < filled; w++) {
                const float *line = src + (w0 + w) * ld;
                for (int64_t k = 0; k < depth; k++) dst[k * panel + w] = line[k];
            }
            for (int64_t w = filled; w < panel; w++) {
                for (int64_t k = 0; k < depth; k++) dst[k * panel + w] = 0.0f;
            }
        }
    }
}

static float *aligned_floats(int64_t count) {
    // 64-byte alignment lets the kernels use aligned vector loads.
    size_t bytes = (size_t)round_up(count * (int64_t)sizeof(float), 64);
    float *buffer = aligned_alloc(64, bytes);
    if (buffer == NULL) {
        fprintf(stderr, "cairn_sgemm: out of memory for a %zu-byte packing buffer\n", bytes);
        abort();
    }
    return buffer;
}

// Runs one micro-kernel call on a tile that may stick out of C: a partial
// tile is computed into a scratch tile and only its valid part is written.
static void run_tile(const cairn_sgemm_kernel_desc *kernel, int64_t kb,
                     const float *a, const float *b, float *c, int64_t ldc,
                     int64_t rows, int64_t cols, int overwrite, float *scratch) {
    if (rows == kernel->mr && cols == kernel->nr) {
        kernel->micro(kb, a, b, c, ldc, overwrite);
        return;
    }
    kernel->micro(kb, a, b, scratch, kernel->nr, 1);
    for (int64_t i = 0; i < rows; i++) {
        const float *src = scratch + i * kernel->nr;
        float *dst = c + i * ldc;
        for (int64_t j = 0; j < cols; j++) dst[j] = overwrite ? src[j] : dst[j] + src[j];
    }
}

static void sgemm_with(const cairn_sgemm_kernel_desc *kernel,
                       int transA, int transB, int64_t M, int64_t N, int64_t K,
                       const float *A, int64_t lda, const float *B, int64_t ldb,
                       float *C, int64_t ldc, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate) {
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
        }
        return;
    }
    const int mr = kernel->mr, nr = kernel->nr;
    const int64_t kc = min_i64(kernel->kc, K);
    const int64_t mc = min_i64(kernel->mc, round_up(M, mr));
    const int64_t nc = min_i64(kernel->nc, round_up(N, nr));
    float *packed_a = aligned_floats(mc * kc);
    float *packed_b = aligned_floats(kc * nc);
    float *scratch = aligned_floats((int64_t)mr * nr);

    for (int64_t jc = 0; jc < N; jc += nc) {
        const int64_t nb = min_i64(nc, N - jc);
        for (int64_t pc = 0; pc < K; pc += kc) {
            const int64_t kb = min_i64(kc, K - pc);
            const int overwrite = pc == 0 && !accumulate;
            const float *b_block = transB ? B + jc * ldb + pc : B + pc * ldb + jc;
            pack_panels(b_block, ldb, !transB, nb, kb, nr, packed_b);
            for (int64_t ic = 0; ic < M; ic += mc) {
                const int64_t mb = min_i64(mc, M - ic);
                const float *a_block = transA ? A + pc * lda + ic : A + ic * lda + pc;
                pack_panels(a_block, lda, transA, mb, kb, mr, packed_a);
                for (int64_t jr = 0; jr < nb; jr += nr) {
                    const float *b_panel = packed_b + jr * kb;
                    for (int64_t ir = 0; ir < mb; ir += mr) {
                        run_tile(kernel, kb, packed_a + ir * kb, b_panel,
                                 C + (ic + ir) * ldc + jc + jr, ldc,
                                 min_i64(mr, mb - ir), min_i64(nr, nb - jr),
                                 overwrite, scratch);
                    }
                }
            }
        }
    }
    free(scratch);
    free(packed_b);
    free(packed_a);
}

void cairn_sgemm(int transA, int transB,
                 int64_t M, int64_t N, int64_t K,
                 const float *A, int64_t lda,
                 const float *B, int64_t ldb,
                 float *C, int64_t ldc,
                 int accumulate) {
    sgemm_with(best_kernel(), transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

const char *cairn_sgemm_kernel_name(void) { return best_kernel()->name; }

int cairn_sgemm_kernel_count(void) { return KERNEL_COUNT; }

const char *cairn_sgemm_kernel_name_at(int index) {
    if (index < 0 || index >= KERNEL_COUNT) return NULL;
    return all_kernels[index]->name;
}

int cairn_sgemm_kernel_is_supported(int index) {
    if (index < 0 || index >= KERNEL_COUNT) return 0;
    return all_kernels[index]->is_supported();
}

int cairn_sgemm_using_kernel(int index, int transA, int transB,
                             int64_t M, int64_t N, int64_t K,
                             const float *A, int64_t lda,
                             const float *B, int64_t ldb,
                             float *C, int64_t ldc,
                             int accumulate) {
    if (!cairn_sgemm_kernel_is_supported(index)) return -1;
    sgemm_with(all_kernels[index], transA, transB, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
    return 0;
}
