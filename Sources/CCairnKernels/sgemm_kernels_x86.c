#include "sgemm_internal.h"

#if defined(__x86_64__)

// The x86 micro-kernels are inline assembly rather than intrinsics because
// SwiftPM compiles C targets at -O0 in debug builds (and tests run in debug),
// where intrinsics spill every accumulator to the stack on every step and
// run 50 times slower. Assembly runs the same in debug and release.
// Each kernel keeps its whole C tile in vector registers for the kc loop and
// touches C once at the end, so the summation order of every element is the
// fixed k order inside one packed block, then one add to C.

enum { AVX2_MR = 6, AVX2_NR = 16 };

// One k step of one row: broadcast a[row], multiply-add with both B vectors.
#define AVX2_ROW(aoff, acc0, acc1) \
    "vbroadcastss " aoff "(%[a]), %%ymm14\n\t" \
    "vfmadd231ps %%ymm12, %%ymm14, %%ymm" acc0 "\n\t" \
    "vfmadd231ps %%ymm13, %%ymm14, %%ymm" acc1 "\n\t"

// Adds (unless overwriting) and stores one row of the tile, then steps to the next row of C.
#define AVX2_STORE(acc0, acc1) \
    "test %[overwrite], %[overwrite]\n\t" \
    "jnz 1f\n\t" \
    "vaddps (%[c]), %%ymm" acc0 ", %%ymm" acc0 "\n\t" \
    "vaddps 32(%[c]), %%ymm" acc1 ", %%ymm" acc1 "\n\t" \
    "1:\n\t" \
    "vmovups %%ymm" acc0 ", (%[c])\n\t" \
    "vmovups %%ymm" acc1 ", 32(%[c])\n\t" \
    "add %[ldcb], %[c]\n\t"

__attribute__((target("avx2,fma")))
static void avx2_micro(int64_t kc, const float *a, const float *b,
                       float *c, int64_t ldc, int overwrite) {
    int64_t ldc_bytes = ldc * (int64_t)sizeof(float);
    int64_t overwrite_flag = overwrite;
    __asm__ volatile(
        "vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
        "vxorps %%ymm1, %%ymm1, %%ymm1\n\t"
        "vxorps %%ymm2, %%ymm2, %%ymm2\n\t"
        "vxorps %%ymm3, %%ymm3, %%ymm3\n\t"
        "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"
        "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"
        "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
        "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
        "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
        "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"
        "vxorps %%ymm10, %%ymm10, %%ymm10\n\t"
        "vxorps %%ymm11, %%ymm11, %%ymm11\n\t"
        "2:\n\t"
        "vmovaps (%[b]), %%ymm12\n\t"
        "vmovaps 32(%[b]), %%ymm13\n\t"
        AVX2_ROW("0", "0", "1")
        AVX2_ROW("4", "2", "3")
        AVX2_ROW("8", "4", "5")
        AVX2_ROW("12", "6", "7")
        AVX2_ROW("16", "8", "9")
        AVX2_ROW("20", "10", "11")
        "add $24, %[a]\n\t"
        "add $64, %[b]\n\t"
        "dec %[k]\n\t"
        "jnz 2b\n\t"
        AVX2_STORE("0", "1")
        AVX2_STORE("2", "3")
        AVX2_STORE("4", "5")
        AVX2_STORE("6", "7")
        AVX2_STORE("8", "9")
        AVX2_STORE("10", "11")
        "vzeroupper\n\t"
        : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [k] "+r"(kc)
        : [ldcb] "r"(ldc_bytes), [overwrite] "r"(overwrite_flag)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
          "cc", "memory");
}

static int avx2_is_supported(void) {
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

#define AVX512_ROW(aoff, acc0, acc1) \
    "vbroadcastss " aoff "(%[a]), %%zmm26\n\t" \
    "vfmadd231ps %%zmm24, %%zmm26, %%zmm" acc0 "\n\t" \
    "vfmadd231ps %%zmm25, %%zmm26, %%zmm" acc1 "\n\t"

#define AVX512_STORE(acc0, acc1) \
    "test %[overwrite], %[overwrite]\n\t" \
    "jnz 1f\n\t" \
    "vaddps (%[c]), %%zmm" acc0 ", %%zmm" acc0 "\n\t" \
    "vaddps 64(%[c]), %%zmm" acc1 ", %%zmm" acc1 "\n\t" \
    "1:\n\t" \
    "vmovups %%zmm" acc0 ", (%[c])\n\t" \
    "vmovups %%zmm" acc1 ", 64(%[c])\n\t" \
    "add %[ldcb], %[c]\n\t"

#define AVX512_ZERO(acc) "vpxord %%zmm" acc ", %%zmm" acc ", %%zmm" acc "\n\t"

__attribute__((target("avx512f")))
static void avx512_micro(int64_t kc, const float *a, const float *b,
                         float *c, int64_t ldc, int overwrite) {
    int64_t ldc_bytes = ldc * (int64_t)sizeof(float);
    int64_t overwrite_flag = overwrite;
    __asm__ volatile(
        AVX512_ZERO("0") AVX512_ZERO("1") AVX512_ZERO("2") AVX512_ZERO("3")
        AVX512_ZERO("4") AVX512_ZERO("5") AVX512_ZERO("6") AVX512_ZERO("7")
        AVX512_ZERO("8") AVX512_ZERO("9") AVX512_ZERO("10") AVX512_ZERO("11")
        AVX512_ZERO("12") AVX512_ZERO("13") AVX512_ZERO("14") AVX512_ZERO("15")
        AVX512_ZERO("16") AVX512_ZERO("17") AVX512_ZERO("18") AVX512_ZERO("19")
        AVX512_ZERO("20") AVX512_ZERO("21") AVX512_ZERO("22") AVX512_ZERO("23")
        "2:\n\t"
        "vmovaps (%[b]), %%zmm24\n\t"
        "vmovaps 64(%[b]), %%zmm25\n\t"
        AVX512_ROW("0", "0", "1")
        AVX512_ROW("4", "2", "3")
        AVX512_ROW("8", "4", "5")
        AVX512_ROW("12", "6", "7")
        AVX512_ROW("16", "8", "9")
        AVX512_ROW("20", "10", "11")
        AVX512_ROW("24", "12", "13")
        AVX512_ROW("28", "14", "15")
        AVX512_ROW("32", "16", "17")
        AVX512_ROW("36", "18", "19")
        AVX512_ROW("40", "20", "21")
        AVX512_ROW("44", "22", "23")
        "add $48, %[a]\n\t"
        "add $128, %[b]\n\t"
        "dec %[k]\n\t"
        "jnz 2b\n\t"
        AVX512_STORE("0", "1")
        AVX512_STORE("2", "3")
        AVX512_STORE("4", "5")
        AVX512_STORE("6", "7")
        AVX512_STORE("8", "9")
        AVX512_STORE("10", "11")
        AVX512_STORE("12", "13")
        AVX512_STORE("14", "15")
        AVX512_STORE("16", "17")
        AVX512_STORE("18", "19")
        AVX512_STORE("20", "21")
        AVX512_STORE("22", "23")
        "vzeroupper\n\t"
        : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [k] "+r"(kc)
        : [ldcb] "r"(ldc_bytes), [overwrite] "r"(overwrite_flag)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
          "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
          "xmm24", "xmm25", "xmm26", "cc", "memory");
}

static int avx512_is_supported(void) {
    return __builtin_cpu_supports("avx512f");
}

const cairn_sgemm_kernel_desc cairn_sgemm_avx512_kernel = {
    .name = "avx512f-12x32",
    .mr = AVX512_MR,
    .nr = AVX512_NR,
    .mc = 144,
    .kc = 512,
    .nc = 2048,
    .micro = avx512_micro,
    .is_supported = avx512_is_supported,
};

#endif
