#include "sgemm_internal.h"

#if defined(__x86_64__)

// The x86 micro-kernels are inline assembly rather than intrinsics because
// SwiftPM compiles C targets at -O0 in debug builds (and tests run in debug),
// where intrinsics spill every accumulator to the stack on every step and
// run 50 times slower. Assembly runs the same in debug and release.
// Each kernel keeps its whole C tile in vector registers for the kc loop and
// touches C once at the end, so the summation order of every element is the
// fixed k order inside one packed block, then one add to C.

// Shared pieces of the kernels' assembly. R names the register file ("ymm" or
// "zmm"), VB is the vector width in bytes (the offset of a row's second
// vector), B0/B1 hold the two B vectors of the current step and BC the
// broadcast of A.

// One k step of one row: broadcast a[row], multiply-add it with both B vectors.
#define KERNEL_ROW(R, B0, B1, BC, aoff, acc0, acc1) \
    "vbroadcastss " aoff "(%[a]), %%" R BC "\n\t" \
    "vfmadd231ps %%" R B0 ", %%" R BC ", %%" R acc0 "\n\t" \
    "vfmadd231ps %%" R B1 ", %%" R BC ", %%" R acc1 "\n\t"

// Loads the step's two B vectors (packed B is 64-byte aligned).
#define KERNEL_LOAD_B(R, VB, B0, B1) \
    "vmovaps (%[b]), %%" R B0 "\n\t" \
    "vmovaps " VB "(%[b]), %%" R B1 "\n\t"

// Advances the packed panels by one k step and loops while steps remain.
#define KERNEL_NEXT_STEP(a_bytes, b_bytes) \
    "add $" a_bytes ", %[a]\n\t" \
    "add $" b_bytes ", %[b]\n\t" \
    "dec %[k]\n\t" \
    "jnz 2b\n\t"

// Adds C's row to the tile row (unless overwriting), stores it, steps to C's next row.
#define KERNEL_STORE(R, VB, acc0, acc1) \
    "test %[overwrite], %[overwrite]\n\t" \
    "jnz 1f\n\t" \
    "vaddps (%[c]), %%" R acc0 ", %%" R acc0 "\n\t" \
    "vaddps " VB "(%[c]), %%" R acc1 ", %%" R acc1 "\n\t" \
    "1:\n\t" \
    "vmovups %%" R acc0 ", (%[c])\n\t" \
    "vmovups %%" R acc1 ", " VB "(%[c])\n\t" \
    "add %[ldcb], %[c]\n\t"

#define KERNEL_OPERANDS \
    : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [k] "+r"(kc) \
    : [ldcb] "r"(ldc_bytes), [overwrite] "r"(overwrite_flag)

enum { AVX2_MR = 6, AVX2_NR = 16 };

#define AVX2_ZERO(acc) "vxorps %%ymm" acc ", %%ymm" acc ", %%ymm" acc "\n\t"
#define AVX2_ROW(aoff, acc0, acc1) KERNEL_ROW("ymm", "12", "13", "14", aoff, acc0, acc1)
#define AVX2_STORE(acc0, acc1) KERNEL_STORE("ymm", "32", acc0, acc1)

__attribute__((target("avx2,fma")))
static void avx2_micro(int64_t kc, const float *a, const float *b,
                       float *c, int64_t ldc, int overwrite) {
    int64_t ldc_bytes = ldc * (int64_t)sizeof(float);
    int64_t overwrite_flag = overwrite;
    __asm__ volatile(
        AVX2_ZERO("0") AVX2_ZERO("1") AVX2_ZERO("2") AVX2_ZERO("3")
        AVX2_ZERO("4") AVX2_ZERO("5") AVX2_ZERO("6") AVX2_ZERO("7")
        AVX2_ZERO("8") AVX2_ZERO("9") AVX2_ZERO("10") AVX2_ZERO("11")
        "2:\n\t"
        KERNEL_LOAD_B("ymm", "32", "12", "13")
        AVX2_ROW("0", "0", "1")
        AVX2_ROW("4", "2", "3")
        AVX2_ROW("8", "4", "5")
        AVX2_ROW("12", "6", "7")
        AVX2_ROW("16", "8", "9")
        AVX2_ROW("20", "10", "11")
        KERNEL_NEXT_STEP("24", "64")
        AVX2_STORE("0", "1")
        AVX2_STORE("2", "3")
        AVX2_STORE("4", "5")
        AVX2_STORE("6", "7")
        AVX2_STORE("8", "9")
        AVX2_STORE("10", "11")
        "vzeroupper\n\t"
        KERNEL_OPERANDS
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

#define AVX512_ROW(aoff, acc0, acc1) KERNEL_ROW("zmm", "24", "25", "26", aoff, acc0, acc1)
#define AVX512_STORE(acc0, acc1) KERNEL_STORE("zmm", "64", acc0, acc1)
// vxorps on zmm needs AVX512DQ; vpxord is plain AVX512F.
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
        KERNEL_LOAD_B("zmm", "64", "24", "25")
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
        KERNEL_NEXT_STEP("48", "128")
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
        KERNEL_OPERANDS
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
