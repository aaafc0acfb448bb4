/* fp32 dense-layer kernels for small batches (the planner's predictor passes): portable C, x86 AVX2+FMA,
   x86 AVX-512F, ARM NEON (ARMv8.0). See ckernels.h. Nothing here calls a BLAS library.

   Every variant walks the same loop nest: for each 16-column panel of the packed weights (k × 16
   floats, 8 KiB at k = 128, held in L1 while the rows stream past), for each tile of rows, a
   register-resident tile of sums over k, then bias, ReLU and the store. The vector variants fuse the
   multiply-add (one rounding per term), the portable one does not: their results agree to float
   rounding, not bit for bit. */
#include "ckernels.h"
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CKD_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#define CKD_ARM 1
#endif

#define PANEL 16

static inline int32_t mini(int32_t a, int32_t b) { return a < b ? a : b; }

int32_t ck_dense_packed_count(int32_t n, int32_t k) { return (n + PANEL - 1) / PANEL * PANEL * k; }

void ck_pack_f32(int32_t n, int32_t k, const float *w, float *packed) {
    const int32_t panels = (n + PANEL - 1) / PANEL;
    for (int32_t p = 0; p < panels; p++)
        for (int32_t i = 0; i < k; i++)
            for (int32_t c = 0; c < PANEL; c++) {
                const int32_t o = p * PANEL + c;
                packed[((size_t)p * k + i) * PANEL + c] = o < n ? w[(size_t)o * k + i] : 0.0f;
            }
}

/* Bias, ReLU and the store of one tile row (count ≤ 16 columns starting at column n0). */
static inline void store_row(const float *acc, int32_t n0, int32_t count, const float *bias, int32_t relu,
                             float *out) {
    for (int32_t j = 0; j < count; j++) {
        float y = acc[j];
        if (bias) y = y + bias[n0 + j];
        if (relu) y = y > 0.0f ? y : 0.0f;
        out[j] = y;
    }
}

/* ---------------------------------------------------------------- portable */

static void dense_portable(int32_t m, const float *a, int32_t lda, int32_t k, const float *packed, int32_t n,
                           const float *bias, int32_t relu, float *out, int32_t ldo) {
    const int32_t panels = (n + PANEL - 1) / PANEL;
    for (int32_t p = 0; p < panels; p++) {
        const float *wp = packed + (size_t)p * k * PANEL;
        const int32_t n0 = p * PANEL, count = mini(PANEL, n - n0);
        for (int32_t i = 0; i < m; i += 4) {
            const int32_t rows = mini(4, m - i);
            float acc[4][PANEL];
            memset(acc, 0, sizeof acc);
            for (int32_t q = 0; q < k; q++) {
                const float *wq = wp + (size_t)q * PANEL;
                for (int32_t r = 0; r < rows; r++) {
                    const float x = a[(size_t)(i + r) * lda + q];
                    for (int32_t c = 0; c < PANEL; c++) acc[r][c] += x * wq[c];
                }
            }
            for (int32_t r = 0; r < rows; r++) store_row(acc[r], n0, count, bias, relu, out + (size_t)(i + r) * ldo + n0);
        }
    }
}

/* ---------------------------------------------------------------- x86 */
#ifdef CKD_X86

/* A tile of R rows × 16 columns in 2R ymm accumulators; R is a constant at each call, so the arrays
   live in registers (R = 4: 8 accumulators, 2 weight loads and 4 broadcasts per k; 6 rows measured
   slower: 12 accumulators leave too few of the 16 registers). */
static inline __attribute__((always_inline, target("avx2,fma"))) void tile_avx2(
    const int32_t R, const float *a, int32_t lda, int32_t k, const float *wp, int32_t n0, int32_t count,
    const float *bias, int32_t relu, float *out, int32_t ldo) {
    __m256 acc[4][2];
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int32_t q = 0; q < k; q++) {
        const __m256 w0 = _mm256_loadu_ps(wp + (size_t)q * PANEL), w1 = _mm256_loadu_ps(wp + (size_t)q * PANEL + 8);
        for (int r = 0; r < R; r++) {
            const __m256 x = _mm256_broadcast_ss(a + (size_t)r * lda + q);
            acc[r][0] = _mm256_fmadd_ps(x, w0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, w1, acc[r][1]);
        }
    }
    if (count == PANEL) {
        const __m256 b0 = bias ? _mm256_loadu_ps(bias + n0) : _mm256_setzero_ps();
        const __m256 b1 = bias ? _mm256_loadu_ps(bias + n0 + 8) : _mm256_setzero_ps();
        const __m256 zero = _mm256_setzero_ps();
        for (int r = 0; r < R; r++) {
            __m256 y0 = _mm256_add_ps(acc[r][0], b0), y1 = _mm256_add_ps(acc[r][1], b1);
            if (relu) { y0 = _mm256_max_ps(y0, zero); y1 = _mm256_max_ps(y1, zero); }
            _mm256_storeu_ps(out + (size_t)r * ldo + n0, y0);
            _mm256_storeu_ps(out + (size_t)r * ldo + n0 + 8, y1);
        }
    } else {
        float row[PANEL];
        for (int r = 0; r < R; r++) {
            _mm256_storeu_ps(row, acc[r][0]);
            _mm256_storeu_ps(row + 8, acc[r][1]);
            store_row(row, n0, count, bias, relu, out + (size_t)r * ldo + n0);
        }
    }
}

__attribute__((target("avx2,fma"))) static void dense_avx2(int32_t m, const float *a, int32_t lda, int32_t k,
                                                         const float *packed, int32_t n, const float *bias,
                                                         int32_t relu, float *out, int32_t ldo) {
    const int32_t panels = (n + PANEL - 1) / PANEL;
    for (int32_t p = 0; p < panels; p++) {
        const float *wp = packed + (size_t)p * k * PANEL;
        const int32_t n0 = p * PANEL, count = mini(PANEL, n - n0);
        int32_t i = 0;
        for (; i + 4 <= m; i += 4) tile_avx2(4, a + (size_t)i * lda, lda, k, wp, n0, count, bias, relu, out + (size_t)i * ldo, ldo);
        switch (m - i) {
        case 3: tile_avx2(3, a + (size_t)i * lda, lda, k, wp, n0, count, bias, relu, out + (size_t)i * ldo, ldo); break;
        case 2: tile_avx2(2, a + (size_t)i * lda, lda, k, wp, n0, count, bias, relu, out + (size_t)i * ldo, ldo); break;
        case 1: tile_avx2(1, a + (size_t)i * lda, lda, k, wp, n0, count, bias, relu, out + (size_t)i * ldo, ldo); break;
        default: break;
        }
    }
}

/* A tile of R rows × 16 columns, one zmm accumulator per row (R = 8: 8 accumulators, one weight load
   and 8 broadcasts per k). */
static inline __attribute__((always_inline, target("avx512f"))) void tile_avx512(
    const int32_t R, const float *a, int32_t lda, int32_t k, const float *wp, int32_t n0, int32_t count,
    const float *bias, int32_t relu, float *out, int32_t ldo) {
    __m512 acc[8];
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    for (int32_t q = 0; q < k; q++) {
        const __m512 w = _mm512_loadu_ps(wp + (size_t)q * PANEL);
        for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[(size_t)r * lda + q]), w, acc[r]);
    }
    if (count == PANEL) {
        const __m512 b = bias ? _mm512_loadu_ps(bias + n0) : _mm512_setzero_ps(), zero = _mm512_setzero_ps();
        for (int r = 0; r < R; r++) {
            __m512 y = _mm512_add_ps(acc[r], b);
            if (relu) y = _mm512_max_ps(y, zero);
            _mm512_storeu_ps(out + (size_t)r * ldo + n0, y);
        }
    } else {
        float row[PANEL];
        for (int r = 0; r < R; r++) {
            _mm512_storeu_ps(row, acc[r]);
            store_row(row, n0, count, bias, relu, out + (size_t)r * ldo + n0);
        }
    }
}

__attribute__((target("avx512f"))) static void dense_avx512(int32_t m, const float *a, int32_t lda, int32_t k,
                                                          const float *packed, int32_t n, const float *bias,
                                                          int32_t relu, float *out, int32_t ldo) {
    const int32_t panels = (n + PANEL - 1) / PANEL;
    for (int32_t p = 0; p < panels; p++) {
        const float *wp = packed + (size_t)p * k * PANEL;
        const int32_t n0 = p * PANEL, count = mini(PANEL, n - n0);
        int32_t i = 0;
        for (; i + 8 <= m; i += 8) tile_avx512(8, a + (size_t)i * lda, lda, k, wp, n0, count, bias, relu, out + (size_t)i * ldo, ldo);
        for (; i + 4 <= m; i += 4) tile_avx512(4, a + (size_t)i * lda, lda, k, wp, n0, count, bias, relu, out + (size_t)i * ldo, ldo);
        for (; i < m; i++) tile_avx512(1, a + (size_t)i * lda, lda, k, wp, n0, count, bias, relu, out + (size_t)i * ldo, ldo);
    }
}

static int32_t dense_features(void) {
    int32_t f = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) f |= 1 << CK_DENSE_AVX2;
    if (__builtin_cpu_supports("avx512f")) f |= 1 << CK_DENSE_AVX512;
    return f;
}
#endif /* CKD_X86 */

/* ---------------------------------------------------------------- ARM */
#ifdef CKD_ARM

/* A tile of R rows × 16 columns in 4R q accumulators (R = 4: 16 accumulators). Four k at a time: one
   q register of inputs per row, multiplied by lane into the four weight vectors of each k. ARMv8.0
   NEON only (Cortex-A53/A72 and later). */
static inline __attribute__((always_inline)) void tile_neon(const int32_t R, const float *a, int32_t lda, int32_t k,
                                                           const float *wp, int32_t n0, int32_t count,
                                                           const float *bias, int32_t relu, float *out, int32_t ldo) {
    float32x4_t acc[4][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = vdupq_n_f32(0.0f);
    int32_t q = 0;
    for (; q + 4 <= k; q += 4) {
        float32x4_t x[4];
        for (int r = 0; r < R; r++) x[r] = vld1q_f32(a + (size_t)r * lda + q);
#define CKD_NEON_STEP(L)                                                                                  \
        {                                                                                                 \
            const float *wq = wp + (size_t)(q + L) * PANEL;                                               \
            const float32x4_t w0 = vld1q_f32(wq), w1 = vld1q_f32(wq + 4), w2 = vld1q_f32(wq + 8),         \
                              w3 = vld1q_f32(wq + 12);                                                    \
            for (int r = 0; r < R; r++) {                                                                 \
                acc[r][0] = vfmaq_laneq_f32(acc[r][0], w0, x[r], L);                                      \
                acc[r][1] = vfmaq_laneq_f32(acc[r][1], w1, x[r], L);                                      \
                acc[r][2] = vfmaq_laneq_f32(acc[r][2], w2, x[r], L);                                      \
                acc[r][3] = vfmaq_laneq_f32(acc[r][3], w3, x[r], L);                                      \
            }                                                                                             \
        }
        CKD_NEON_STEP(0) CKD_NEON_STEP(1) CKD_NEON_STEP(2) CKD_NEON_STEP(3)
#undef CKD_NEON_STEP
    }
    for (; q < k; q++) {
        const float *wq = wp + (size_t)q * PANEL;
        const float32x4_t w0 = vld1q_f32(wq), w1 = vld1q_f32(wq + 4), w2 = vld1q_f32(wq + 8), w3 = vld1q_f32(wq + 12);
        for (int r = 0; r < R; r++) {
            const float32x4_t x = vdupq_n_f32(a[(size_t)r * lda + q]);
            acc[r][0] = vfmaq_f32(acc[r][0], w0, x);
            acc[r][1] = vfmaq_f32(acc[r][1], w1, x);
            acc[r][2] = vfmaq_f32(acc[r][2], w2, x);
            acc[r][3] = vfmaq_f32(acc[r][3], w3, x);
        }
    }
    float row[PANEL];
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < 4; c++) vst1q_f32(row + 4 * c, acc[r][c]);
        store_row(row, n0, count, bias, relu, out + (size_t)r * ldo + n0);
    }
}

static void dense_neon(int32_t m, const float *a, int32_t lda, int32_t k, const float *packed, int32_t n,
                       const float *bias, int32_t relu, float *out, int32_t ldo) {
    const int32_t panels = (n + PANEL - 1) / PANEL;
    for (int32_t p = 0; p < panels; p++) {
        const float *wp = packed + (size_t)p * k * PANEL;
        const int32_t n0 = p * PANEL, count = mini(PANEL, n - n0);
        int32_t i = 0;
        for (; i + 4 <= m; i += 4) tile_neon(4, a + (size_t)i * lda, lda, k, wp, n0, count, bias, relu, out + (size_t)i * ldo, ldo);
        for (; i < m; i++) tile_neon(1, a + (size_t)i * lda, lda, k, wp, n0, count, bias, relu, out + (size_t)i * ldo, ldo);
    }
}

static int32_t dense_features(void) { return 1 << CK_DENSE_NEON; }
#endif /* CKD_ARM */

#if !defined(CKD_X86) && !defined(CKD_ARM)
static int32_t dense_features(void) { return 0; }
#endif

/* ---------------------------------------------------------------- dispatch */

int32_t ck_dense_available(ck_dense_kernel kernel) {
    if (kernel == CK_DENSE_PORTABLE) return 1;
    return (dense_features() >> kernel) & 1;
}

int ck_dense_f32(ck_dense_kernel kernel, int32_t m, const float *a, int32_t lda, int32_t k, const float *packed,
                 int32_t n, const float *bias, int32_t relu, float *out, int32_t ldo) {
    if (m <= 0) return 0;
    if (!ck_dense_available(kernel)) return -1;
    switch (kernel) {
    case CK_DENSE_PORTABLE: dense_portable(m, a, lda, k, packed, n, bias, relu, out, ldo); return 0;
#ifdef CKD_X86
    case CK_DENSE_AVX2: dense_avx2(m, a, lda, k, packed, n, bias, relu, out, ldo); return 0;
    case CK_DENSE_AVX512: dense_avx512(m, a, lda, k, packed, n, bias, relu, out, ldo); return 0;
#endif
#ifdef CKD_ARM
    case CK_DENSE_NEON: dense_neon(m, a, lda, k, packed, n, bias, relu, out, ldo); return 0;
#endif
    default: return -1;
    }
}

int ck_dense_stack_f32(ck_dense_kernel kernel, int32_t m, const float *in, int32_t ldi, const ck_dense_layer *layers,
                       int32_t count, float *hidden0, float *hidden1, int32_t ldh, float *out, int32_t ldo) {
    const float *src = in;
    int32_t lds = ldi;
    for (int32_t l = 0; l < count; l++) {
        const int last = l == count - 1;
        float *dst = last ? out : (l % 2 ? hidden1 : hidden0);
        const int32_t ld = last ? ldo : ldh;
        if (ck_dense_f32(kernel, m, src, lds, layers[l].inputs, layers[l].packed, layers[l].outputs, layers[l].bias,
                         layers[l].relu, dst, ld) != 0)
            return -1;
        src = dst;
        lds = ld;
    }
    return 0;
}

int32_t ck_first_within_f32(const float *points, int32_t count, int32_t d, const float *z, float r2) {
    const int32_t d8 = d / 8 * 8;
    for (int32_t i = 0; i < count; i++) {
        const float *p = points + (size_t)i * d;
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int32_t j = 0; j < d8; j += 8)
            for (int32_t l = 0; l < 8; l++) {
                const float e = p[j + l] - z[j + l];
                acc[l] += e * e;
            }
        float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (int32_t j = d8; j < d; j++) {
            const float e = p[j] - z[j];
            s += e * e;
        }
        if (s < r2) return i;
    }
    return -1;
}
