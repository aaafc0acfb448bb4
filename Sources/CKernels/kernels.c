/* int8 GEMM kernels: portable C, x86 AVX2, x86 AVX-512 VNNI, ARM NEON (ARMv8.0) and NEON SDOT. See ckernels.h.
   Every variant computes the int32 sums exactly and applies the epilogue with the same float
   operations in the same order (no fused multiply-add), so all of them give identical results. */
#pragma STDC FP_CONTRACT OFF
#include "ckernels.h"
#include <math.h>
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#include <sys/auxv.h>
#define CK_ARM 1
#endif

static inline int32_t min_i32(int32_t a, int32_t b) { return a < b ? a : b; }

/* ---------------------------------------------------------------- the shared scalar epilogue */

static inline float epilogue_value(int32_t acc, int32_t n, float row_scale, const ck_epilogue *e) {
    float y = (float)acc;
    y = y * e->scale[n];
    if (e->row_scale) y = y * row_scale;
    if (e->bias) y = y + e->bias[n];
    if (e->relu) y = y > 0.0f ? y : 0.0f;
    return y;
}

static inline int8_t quantize_value(float y, float inv_scale) {
    float u = y * inv_scale;
    u = u < -127.0f ? -127.0f : u;
    u = u > 127.0f ? 127.0f : u;
    return (int8_t)(int32_t)nearbyintf(u);
}

/* The row scale of row i (a placeholder where the epilogue has none). */
static inline float row_scale_of(const ck_epilogue *e, int32_t i) { return e->row_scale ? e->row_scale[i] : 1.0f; }

/* Stores one row of int32 sums (count channels starting at n0) through the scalar epilogue. */
static inline void store_row_scalar(const int32_t *acc, int32_t n0, int32_t count, const ck_epilogue *e,
                                    float row_scale, float *of, int8_t *os) {
    for (int32_t j = 0; j < count; j++) {
        float y = epilogue_value(acc[j], n0 + j, row_scale, e);
        if (of) of[j] = y;
        else os[j] = quantize_value(y, e->out_inv_scale);
    }
}

/* The four row pointers of a 4-row tile starting at row i of A (rows < 4 repeats the last real row, whose
   sums are then not stored). */
static inline void tile_rows(const int8_t *a, int32_t lda, int32_t i, int32_t rows, const int8_t *row[4]) {
    for (int r = 0; r < 4; r++) row[r] = a + (size_t)(i + (r < rows ? r : rows - 1)) * lda;
}

/* Stores the first `rows` rows of a tile of int32 sums (row stride `stride`) for channels n0 … n0 + count - 1 of
   rows i … through the scalar epilogue. */
static inline void store_tile(const int32_t *tile, int32_t stride, int32_t rows, int32_t i, int32_t n0, int32_t count,
                              const ck_epilogue *e, float *of, int8_t *os, int32_t ldo) {
    for (int r = 0; r < rows; r++) {
        store_row_scalar(tile + (size_t)r * stride, n0, count, e, row_scale_of(e, i + r),
                         of ? of + (size_t)(i + r) * ldo + n0 : NULL, os ? os + (size_t)(i + r) * ldo + n0 : NULL);
    }
}

/* ---------------------------------------------------------------- portable */

static void gemm_portable(int32_t m, const int8_t *a, int32_t lda, const ck_packed_s8 *w,
                          const ck_epilogue *e, float *of, int8_t *os, int32_t ldo) {
    /* 16 channels at a time over the packed layout: plain C the compiler vectorizes (SSE2 or
       baseline NEON), the fallback on CPUs without dot-product instructions (Cortex-A72, A55). */
    const int32_t groups = w->kp / 4;
    for (int32_t i = 0; i < m; i++) {
        const int8_t *row = a + (size_t)i * lda;
        for (int32_t n0 = 0; n0 < w->n; n0 += 16) {
            int32_t acc[16] = {0};
            const int8_t *wv = w->weights + (size_t)n0 * 4;
            for (int32_t g = 0; g < groups; g++, wv += (size_t)w->np * 4) {
                const int32_t a0 = row[4 * g], a1 = row[4 * g + 1], a2 = row[4 * g + 2], a3 = row[4 * g + 3];
                for (int32_t j = 0; j < 16; j++)
                    acc[j] += a0 * wv[4 * j] + a1 * wv[4 * j + 1] + a2 * wv[4 * j + 2] + a3 * wv[4 * j + 3];
            }
            const int32_t count = min_i32(16, w->n - n0);
            store_row_scalar(acc, n0, count, e, row_scale_of(e, i), of ? of + (size_t)i * ldo + n0 : NULL,
                             os ? os + (size_t)i * ldo + n0 : NULL);
        }
    }
}

void ck_pack_s8(int32_t n, int32_t k, const int8_t *w, int8_t *packed, int32_t *comp) {
    const int32_t np = (n + 15) / 16 * 16, kp = (k + 3) / 4 * 4;
    memset(packed, 0, (size_t)kp * np);
    memset(comp, 0, sizeof(int32_t) * (size_t)np);
    for (int32_t o = 0; o < n; o++) {
        int32_t sum = 0;
        for (int32_t i = 0; i < k; i++) {
            const int8_t v = w[(size_t)o * k + i];
            packed[((size_t)(i / 4) * np + o) * 4 + (i % 4)] = v;
            sum += v;
        }
        comp[o] = 128 * sum;
    }
}

/* ---------------------------------------------------------------- data movement */

#define DEFINE_IM2COL(NAME, T)                                                                           \
    void NAME(const T *in, int32_t batch, int32_t h, int32_t w, int32_t c, int32_t k, int32_t stride,    \
              int32_t pad, T *out, int32_t row_stride) {                                                 \
        const int32_t oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;         \
        const int32_t span = k * c;                                                                      \
        for (int32_t b = 0; b < batch; b++) {                                                            \
            const T *sample = in + (size_t)b * h * w * c;                                                \
            for (int32_t oy = 0; oy < oh; oy++) {                                                        \
                for (int32_t ox = 0; ox < ow; ox++) {                                                    \
                    T *row = out + ((size_t)(b * oh + oy) * ow + ox) * row_stride;                       \
                    const int32_t x0 = ox * stride - pad;                                                \
                    for (int32_t ky = 0; ky < k; ky++) {                                                 \
                        const int32_t iy = oy * stride - pad + ky;                                       \
                        T *dst = row + ky * span;                                                        \
                        if (iy < 0 || iy >= h) {                                                         \
                            memset(dst, 0, sizeof(T) * (size_t)span);                                    \
                            continue;                                                                    \
                        }                                                                                \
                        const T *line = sample + (size_t)iy * w * c;                                     \
                        if (x0 >= 0 && x0 + k <= w) {                                                    \
                            const T *src = line + (size_t)x0 * c;                                        \
                            for (int32_t j = 0; j < span; j++) dst[j] = src[j];                          \
                        } else {                                                                         \
                            for (int32_t kx = 0; kx < k; kx++) {                                         \
                                const int32_t ix = x0 + kx;                                              \
                                for (int32_t j = 0; j < c; j++)                                          \
                                    dst[kx * c + j] = (ix < 0 || ix >= w) ? (T)0 : line[(size_t)ix * c + j]; \
                            }                                                                            \
                        }                                                                                \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }
DEFINE_IM2COL(ck_im2col_f32, float)
DEFINE_IM2COL(ck_im2col_s8, int8_t)

void ck_quantize_f32(const float *x, int64_t n, float inv_scale, int8_t *out) {
    /* Adding and subtracting 1.5 * 2^23 rounds to the nearest integer, ties to even, for |u| < 2^22
       (u is clamped to ±127): the same result as nearbyintf, in a form the compiler vectorizes. */
    const float magic = 12582912.0f;
    for (int64_t i = 0; i < n; i++) {
        float u = x[i] * inv_scale;
        u = u < -127.0f ? -127.0f : u;
        u = u > 127.0f ? 127.0f : u;
        out[i] = (int8_t)(int32_t)((u + magic) - magic);
    }
}

void ck_bias_relu_f32(float *x, int64_t rows, int32_t cols, const float *bias, int32_t relu) {
    for (int64_t r = 0; r < rows; r++) {
        float *row = x + r * cols;
        if (bias)
            for (int32_t j = 0; j < cols; j++) row[j] = row[j] + bias[j];
        if (relu)
            for (int32_t j = 0; j < cols; j++) row[j] = row[j] > 0.0f ? row[j] : 0.0f;
    }
}

void ck_col2im_f32(const float *patches, int32_t batch, int32_t h, int32_t w, int32_t c, int32_t k, int32_t stride,
                   int32_t pad, int32_t row_stride, float *in_grad) {
    const int32_t oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    for (int64_t i = 0; i < (int64_t)batch * h * w * c; i++) in_grad[i] = 0.0f;
    for (int32_t b = 0; b < batch; b++) {
        float *img = in_grad + (int64_t)b * h * w * c;
        for (int32_t oy = 0; oy < oh; oy++)
            for (int32_t ox = 0; ox < ow; ox++) {
                const float *row = patches + (((int64_t)b * oh + oy) * ow + ox) * row_stride;
                for (int32_t ky = 0; ky < k; ky++) {
                    const int32_t iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= h) continue;
                    for (int32_t kx = 0; kx < k; kx++) {
                        const int32_t ix = ox * stride - pad + kx;
                        if (ix < 0 || ix >= w) continue;
                        float *dst = img + ((int64_t)iy * w + ix) * c;
                        const float *src = row + (ky * k + kx) * c;
                        for (int32_t ch = 0; ch < c; ch++) dst[ch] += src[ch];
                    }
                }
            }
    }
}

void ck_relu_backward_f32(const float *y, float *dy, int64_t n) {
    for (int64_t i = 0; i < n; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void ck_column_sums_f32(const float *x, int64_t rows, int32_t cols, float *sums) {
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        for (int32_t j = 0; j < cols; j++) sums[j] += row[j];
    }
}

/* The centre of pixel i of n along one axis, in (−1, 1): the soft-argmax's coordinate convention. */
static inline float pixel_centre(int32_t i, int32_t n) { return (2.0f * i + 1.0f) / n - 1.0f; }

void ck_spatial_softargmax_f32(const float *x, int64_t n, int32_t h, int32_t w, int32_t c, float *prob, float *out) {
    const int64_t pixels = (int64_t)h * w;
    float peak[c], sum[c], su[c], sv[c];
    for (int64_t s = 0; s < n; s++) {
        const float *xs = x + s * pixels * c;
        float *ps = prob + s * pixels * c, *os = out + s * 2 * c;
        for (int32_t k = 0; k < c; k++) { peak[k] = -INFINITY; sum[k] = 0; su[k] = 0; sv[k] = 0; }
        for (int64_t p = 0; p < pixels; p++)
            for (int32_t k = 0; k < c; k++) peak[k] = fmaxf(peak[k], xs[p * c + k]);
        for (int32_t i = 0; i < h; i++) {
            const float v = pixel_centre(i, h);
            for (int32_t j = 0; j < w; j++) {
                const float u = pixel_centre(j, w);
                const int64_t p = (int64_t)i * w + j;
                for (int32_t k = 0; k < c; k++) {
                    const float e = expf(xs[p * c + k] - peak[k]);
                    ps[p * c + k] = e;
                    sum[k] += e; su[k] += e * u; sv[k] += e * v;
                }
            }
        }
        for (int32_t k = 0; k < c; k++) {
            const float inv = 1.0f / sum[k];
            os[2 * k] = su[k] * inv;
            os[2 * k + 1] = sv[k] * inv;
            sum[k] = inv;
        }
        for (int64_t p = 0; p < pixels; p++)
            for (int32_t k = 0; k < c; k++) ps[p * c + k] *= sum[k];
    }
}

void ck_spatial_softargmax_backward_f32(const float *prob, const float *out, const float *dout, int64_t n, int32_t h,
                                        int32_t w, int32_t c, float *dx) {
    const int64_t pixels = (int64_t)h * w;
    for (int64_t s = 0; s < n; s++) {
        const float *ps = prob + s * pixels * c, *os = out + s * 2 * c, *ds = dout + s * 2 * c;
        float *gs = dx + s * pixels * c;
        for (int32_t i = 0; i < h; i++) {
            const float v = pixel_centre(i, h);
            for (int32_t j = 0; j < w; j++) {
                const float u = pixel_centre(j, w);
                const int64_t p = (int64_t)i * w + j;
                for (int32_t k = 0; k < c; k++)
                    gs[p * c + k] = ps[p * c + k] * (ds[2 * k] * (u - os[2 * k]) + ds[2 * k + 1] * (v - os[2 * k + 1]));
            }
        }
    }
}

/* ---------------------------------------------------------------- x86 */
#ifdef CK_X86
#define VNNI_TARGET "avx512f,avx512bw,avx512vl,avx512vnni"
#define AVX2_TARGET "avx2,fma"

/* A 4-row x (16*NB)-channel tile: VPDPBUSD of the +128-biased activations (unsigned) with the
   signed weights, corrected by comp, then the vector epilogue with masked stores. */
#define DEFINE_VNNI_TILE(NB)                                                                          \
    __attribute__((target(VNNI_TARGET))) static void vnni_tile##NB(                                    \
        const int8_t *a, int32_t lda, int32_t rows, const ck_packed_s8 *w, int32_t n0,                 \
        const ck_epilogue *e, const float *rs, float *of, int8_t *os, int32_t ldo) {                   \
        __m512i acc[4][NB];                                                                            \
        const int8_t *row[4];                                                                          \
        for (int r = 0; r < 4; r++) {                                                                  \
            row[r] = a + (size_t)(r < rows ? r : rows - 1) * lda;                                      \
            for (int b = 0; b < NB; b++) acc[r][b] = _mm512_setzero_si512();                           \
        }                                                                                              \
        const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);                                  \
        const int8_t *wk = w->weights + (size_t)n0 * 4;                                                \
        const size_t wstride = (size_t)w->np * 4;                                                      \
        const int32_t groups = w->kp / 4;                                                              \
        for (int32_t g = 0; g < groups; g++, wk += wstride) {                                          \
            __m512i wv[NB];                                                                            \
            for (int b = 0; b < NB; b++) wv[b] = _mm512_loadu_si512((const void *)(wk + 64 * b));      \
            for (int r = 0; r < 4; r++) {                                                              \
                int32_t q;                                                                             \
                memcpy(&q, row[r] + 4 * g, 4);                                                         \
                const __m512i av = _mm512_xor_si512(_mm512_set1_epi32(q), flip);                       \
                for (int b = 0; b < NB; b++) acc[r][b] = _mm512_dpbusd_epi32(acc[r][b], av, wv[b]);    \
            }                                                                                          \
        }                                                                                              \
        const __m512 zero = _mm512_setzero_ps(), lo = _mm512_set1_ps(-127.0f),                        \
                     hi = _mm512_set1_ps(127.0f), inv = _mm512_set1_ps(e->out_inv_scale);              \
        for (int b = 0; b < NB; b++) {                                                                 \
            const int32_t n = n0 + 16 * b;                                                             \
            if (n >= w->n) break;                                                                      \
            const int32_t count = min_i32(16, w->n - n);                                               \
            const __mmask16 mask = (__mmask16)((1u << count) - 1u);                                    \
            const __m512i comp = _mm512_loadu_si512((const void *)(w->comp + n));                      \
            const __m512 scale = _mm512_maskz_loadu_ps(mask, e->scale + n);                            \
            const __m512 bias = e->bias ? _mm512_maskz_loadu_ps(mask, e->bias + n) : zero;             \
            for (int r = 0; r < rows; r++) {                                                           \
                __m512 y = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][b], comp));                      \
                y = _mm512_mul_ps(y, scale);                                                           \
                if (rs) y = _mm512_mul_ps(y, _mm512_set1_ps(rs[r]));                                   \
                if (e->bias) y = _mm512_add_ps(y, bias);                                               \
                if (e->relu) y = _mm512_max_ps(y, zero);                                               \
                if (of) {                                                                              \
                    _mm512_mask_storeu_ps(of + (size_t)r * ldo + n, mask, y);                          \
                } else {                                                                               \
                    __m512 u = _mm512_mul_ps(y, inv);                                                  \
                    u = _mm512_min_ps(_mm512_max_ps(u, lo), hi);                                       \
                    _mm512_mask_cvtsepi32_storeu_epi8(os + (size_t)r * ldo + n, mask,                  \
                                                      _mm512_cvtps_epi32(u));                          \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }
DEFINE_VNNI_TILE(1)
DEFINE_VNNI_TILE(2)
DEFINE_VNNI_TILE(3)
DEFINE_VNNI_TILE(4)

__attribute__((target(VNNI_TARGET))) static void gemm_vnni(int32_t m, const int8_t *a, int32_t lda,
                                                           const ck_packed_s8 *w, const ck_epilogue *e,
                                                           float *of, int8_t *os, int32_t ldo) {
    for (int32_t n0 = 0; n0 < w->n; n0 += 64) {
        const int32_t blocks = min_i32(4, (w->np - n0) / 16);
        for (int32_t i = 0; i < m; i += 4) {
            const int32_t rows = min_i32(4, m - i);
            const int8_t *ai = a + (size_t)i * lda;
            float *ofi = of ? of + (size_t)i * ldo : NULL;
            int8_t *osi = os ? os + (size_t)i * ldo : NULL;
            const float *rs = e->row_scale ? e->row_scale + i : NULL;
            switch (blocks) {
            case 1: vnni_tile1(ai, lda, rows, w, n0, e, rs, ofi, osi, ldo); break;
            case 2: vnni_tile2(ai, lda, rows, w, n0, e, rs, ofi, osi, ldo); break;
            case 3: vnni_tile3(ai, lda, rows, w, n0, e, rs, ofi, osi, ldo); break;
            default: vnni_tile4(ai, lda, rows, w, n0, e, rs, ofi, osi, ldo); break;
            }
        }
    }
}

/* AVX2 has no exact 8-bit dot product (VPMADDUBSW saturates), so weights and activations are
   sign-extended to 16 bits and multiplied with VPMADDWD, which sums pairs exactly into 32 bits. */
__attribute__((target(AVX2_TARGET))) static void gemm_avx2(int32_t m, const int8_t *a, int32_t lda,
                                                           const ck_packed_s8 *w, const ck_epilogue *e,
                                                           float *of, int8_t *os, int32_t ldo) {
    const int32_t groups = w->kp / 4;
    const size_t wstride = (size_t)w->np * 4;
    int32_t tile[4][8];  /* the epilogue is the shared scalar one */
    for (int32_t n0 = 0; n0 < w->n; n0 += 8) {
        const int32_t count = min_i32(8, w->n - n0);
        for (int32_t i = 0; i < m; i += 4) {
            const int32_t rows = min_i32(4, m - i);
            const int8_t *row[4];
            tile_rows(a, lda, i, rows, row);
            __m256i lo[4], hi[4];
            for (int r = 0; r < 4; r++) lo[r] = hi[r] = _mm256_setzero_si256();
            const int8_t *wk = w->weights + (size_t)n0 * 4;
            for (int32_t g = 0; g < groups; g++, wk += wstride) {
                const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wk));
                const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wk + 16)));
                for (int r = 0; r < 4; r++) {
                    int32_t q;
                    memcpy(&q, row[r] + 4 * g, 4);
                    const __m256i av = _mm256_cvtepi8_epi16(_mm_set1_epi32(q));
                    lo[r] = _mm256_add_epi32(lo[r], _mm256_madd_epi16(w0, av));
                    hi[r] = _mm256_add_epi32(hi[r], _mm256_madd_epi16(w1, av));
                }
            }
            for (int r = 0; r < rows; r++) {
                /* lo holds the pair sums of channels 0-3, hi of 4-7: add pairs, restore the order. */
                const __m256i sums = _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[r], hi[r]), 0xD8);
                _mm256_storeu_si256((__m256i *)tile[r], sums);
            }
            store_tile(&tile[0][0], 8, rows, i, n0, count, e, of, os, ldo);
        }
    }
}

int32_t ck_cpu_features(void) {
    int32_t f = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) f |= CK_FEATURE_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
        f |= CK_FEATURE_AVX512_VNNI;
    return f;
}

__attribute__((target(VNNI_TARGET))) static double peak_vnni(int64_t iterations) {
    __m512i acc[12];
    const __m512i x = _mm512_set1_epi32(0x01020304), y = _mm512_set1_epi32(0x05060708);
    for (int j = 0; j < 12; j++) acc[j] = _mm512_set1_epi32(j);
    for (int64_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 12; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], x, y);
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
    }
    __m512i s = acc[0];
    for (int j = 1; j < 12; j++) s = _mm512_add_epi32(s, acc[j]);
    volatile int32_t sink = _mm512_reduce_add_epi32(s);
    (void)sink;
    return (double)iterations * 12 * 64 * 2;
}

__attribute__((target(AVX2_TARGET))) static double peak_avx2_int8(int64_t iterations) {
    __m256i acc[10];
    const __m256i x = _mm256_set1_epi16(3), y = _mm256_set1_epi16(5);
    for (int j = 0; j < 10; j++) acc[j] = _mm256_set1_epi32(j);
    for (int64_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 10; j++) acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(x, y));
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]));
    }
    __m256i s = acc[0];
    for (int j = 1; j < 10; j++) s = _mm256_add_epi32(s, acc[j]);
    int32_t out[8];
    _mm256_storeu_si256((__m256i *)out, s);
    volatile int32_t sink = out[0];
    (void)sink;
    return (double)iterations * 10 * 16 * 2;
}

__attribute__((target("avx512f"))) static double peak_f32_avx512(int64_t iterations) {
    __m512 acc[12];
    const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
    for (int j = 0; j < 12; j++) acc[j] = _mm512_set1_ps((float)j);
    for (int64_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 12; j++) acc[j] = _mm512_fmadd_ps(acc[j], x, y);
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]), "+v"(acc[2]), "+v"(acc[3]));
    }
    __m512 s = acc[0];
    for (int j = 1; j < 12; j++) s = _mm512_add_ps(s, acc[j]);
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)iterations * 12 * 16 * 2;
}

__attribute__((target(AVX2_TARGET))) static double peak_f32_avx2(int64_t iterations) {
    __m256 acc[10];
    const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
    for (int j = 0; j < 10; j++) acc[j] = _mm256_set1_ps((float)j);
    for (int64_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 10; j++) acc[j] = _mm256_fmadd_ps(acc[j], x, y);
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[1]), "+x"(acc[2]), "+x"(acc[3]));
    }
    __m256 s = acc[0];
    for (int j = 1; j < 10; j++) s = _mm256_add_ps(s, acc[j]);
    float out[8];
    _mm256_storeu_ps(out, s);
    volatile float sink = out[0];
    (void)sink;
    return (double)iterations * 10 * 8 * 2;
}
#endif /* CK_X86 */

/* ---------------------------------------------------------------- ARM */
#ifdef CK_ARM
#define DOT_TARGET "arch=armv8.2-a+dotprod"

/* A 4-row x 16-channel tile: SDOT of the 4 activation bytes (duplicated to every lane) with four
   channels' 4 weights per 128-bit register. The epilogue is the shared scalar one. */
__attribute__((target(DOT_TARGET))) static void gemm_neon_dot(int32_t m, const int8_t *a, int32_t lda,
                                                              const ck_packed_s8 *w, const ck_epilogue *e,
                                                              float *of, int8_t *os, int32_t ldo) {
    const int32_t groups = w->kp / 4;
    const size_t wstride = (size_t)w->np * 4;
    int32_t tile[4][16];
    for (int32_t n0 = 0; n0 < w->n; n0 += 16) {
        const int32_t count = min_i32(16, w->n - n0);
        for (int32_t i = 0; i < m; i += 4) {
            const int32_t rows = min_i32(4, m - i);
            const int8_t *row[4];
            tile_rows(a, lda, i, rows, row);
            int32x4_t acc[4][4];
            for (int r = 0; r < 4; r++)
                for (int b = 0; b < 4; b++) acc[r][b] = vdupq_n_s32(0);
            const int8_t *wk = w->weights + (size_t)n0 * 4;
            for (int32_t g = 0; g < groups; g++, wk += wstride) {
                const int8x16_t w0 = vld1q_s8(wk), w1 = vld1q_s8(wk + 16), w2 = vld1q_s8(wk + 32),
                                w3 = vld1q_s8(wk + 48);
                for (int r = 0; r < 4; r++) {
                    int32_t q;
                    memcpy(&q, row[r] + 4 * g, 4);
                    const int8x16_t av = vreinterpretq_s8_s32(vdupq_n_s32(q));
                    acc[r][0] = vdotq_s32(acc[r][0], w0, av);
                    acc[r][1] = vdotq_s32(acc[r][1], w1, av);
                    acc[r][2] = vdotq_s32(acc[r][2], w2, av);
                    acc[r][3] = vdotq_s32(acc[r][3], w3, av);
                }
            }
            for (int r = 0; r < rows; r++)
                for (int b = 0; b < 4; b++) vst1q_s32(tile[r] + 4 * b, acc[r][b]);
            store_tile(&tile[0][0], 16, rows, i, n0, count, e, of, os, ldo);
        }
    }
}

/* A 4-row x 8-channel tile for cores without SDOT: per group of four k, the eight channels' 32 weights times the
   row's four activations (repeated) by widening multiplies (SMULL/SMULL2: exact int16 products, even of -128
   by -128), whose adjacent pairs SADALP adds into int32; a final pairwise add gives each channel's sum. */
static void gemm_neon(int32_t m, const int8_t *a, int32_t lda, const ck_packed_s8 *w, const ck_epilogue *e,
                      float *of, int8_t *os, int32_t ldo) {
    const int32_t groups = w->kp / 4;
    const size_t wstride = (size_t)w->np * 4;
    int32_t tile[4][8];
    for (int32_t n0 = 0; n0 < w->n; n0 += 8) {
        const int32_t count = min_i32(8, w->n - n0);
        for (int32_t i = 0; i < m; i += 4) {
            const int32_t rows = min_i32(4, m - i);
            const int8_t *row[4];
            tile_rows(a, lda, i, rows, row);
            /* pairs[r][b][h]: channels 4b..4b+3 of row r, the low (h = 0: channels 4b, 4b+1) or high half. */
            int32x4_t pairs[4][2][2];
            for (int r = 0; r < 4; r++)
                for (int b = 0; b < 2; b++) pairs[r][b][0] = pairs[r][b][1] = vdupq_n_s32(0);
            const int8_t *wk = w->weights + (size_t)n0 * 4;
            for (int32_t g = 0; g < groups; g++, wk += wstride) {
                const int8x16_t w0 = vld1q_s8(wk), w1 = vld1q_s8(wk + 16);
                for (int r = 0; r < 4; r++) {
                    int32_t q;
                    memcpy(&q, row[r] + 4 * g, 4);
                    const int8x16_t av = vreinterpretq_s8_s32(vdupq_n_s32(q));
                    pairs[r][0][0] = vpadalq_s16(pairs[r][0][0], vmull_s8(vget_low_s8(w0), vget_low_s8(av)));
                    pairs[r][0][1] = vpadalq_s16(pairs[r][0][1], vmull_high_s8(w0, av));
                    pairs[r][1][0] = vpadalq_s16(pairs[r][1][0], vmull_s8(vget_low_s8(w1), vget_low_s8(av)));
                    pairs[r][1][1] = vpadalq_s16(pairs[r][1][1], vmull_high_s8(w1, av));
                }
            }
            for (int r = 0; r < rows; r++) {
                vst1q_s32(tile[r], vpaddq_s32(pairs[r][0][0], pairs[r][0][1]));
                vst1q_s32(tile[r] + 4, vpaddq_s32(pairs[r][1][0], pairs[r][1][1]));
            }
            store_tile(&tile[0][0], 8, rows, i, n0, count, e, of, os, ldo);
        }
    }
}

int32_t ck_cpu_features(void) {
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
    return CK_FEATURE_NEON | ((getauxval(AT_HWCAP) & HWCAP_ASIMDDP) ? CK_FEATURE_NEON_DOT : 0);
}

static double peak_neon_int8(int64_t iterations) {
    int32x4_t acc[12];
    const int8x16_t x = vdupq_n_s8(3), y = vdupq_n_s8(5);
    for (int j = 0; j < 12; j++) acc[j] = vdupq_n_s32(j);
    for (int64_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 12; j += 2) {
            acc[j] = vpadalq_s16(acc[j], vmull_s8(vget_low_s8(x), vget_low_s8(y)));
            acc[j + 1] = vpadalq_s16(acc[j + 1], vmull_high_s8(x, y));
        }
        __asm__ volatile("" : "+w"(acc[0]), "+w"(acc[1]), "+w"(acc[2]), "+w"(acc[3]));
    }
    int32x4_t s = acc[0];
    for (int j = 1; j < 12; j++) s = vaddq_s32(s, acc[j]);
    volatile int32_t sink = vaddvq_s32(s);
    (void)sink;
    return (double)iterations * 12 * 8 * 2;
}

__attribute__((target(DOT_TARGET))) static double peak_neon_dot(int64_t iterations) {
    int32x4_t acc[16];
    const int8x16_t x = vdupq_n_s8(3), y = vdupq_n_s8(5);
    for (int j = 0; j < 16; j++) acc[j] = vdupq_n_s32(j);
    for (int64_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 16; j++) acc[j] = vdotq_s32(acc[j], x, y);
        __asm__ volatile("" : "+w"(acc[0]), "+w"(acc[1]), "+w"(acc[2]), "+w"(acc[3]));
    }
    int32x4_t s = acc[0];
    for (int j = 1; j < 16; j++) s = vaddq_s32(s, acc[j]);
    volatile int32_t sink = vaddvq_s32(s);
    (void)sink;
    return (double)iterations * 16 * 16 * 2;
}

static double peak_f32_neon(int64_t iterations) {
    float32x4_t acc[16];
    const float32x4_t x = vdupq_n_f32(0.999f), y = vdupq_n_f32(1e-3f);
    for (int j = 0; j < 16; j++) acc[j] = vdupq_n_f32((float)j);
    for (int64_t i = 0; i < iterations; i++) {
        for (int j = 0; j < 16; j++) acc[j] = vfmaq_f32(y, acc[j], x);
        __asm__ volatile("" : "+w"(acc[0]), "+w"(acc[1]), "+w"(acc[2]), "+w"(acc[3]));
    }
    float32x4_t s = acc[0];
    for (int j = 1; j < 16; j++) s = vaddq_f32(s, acc[j]);
    volatile float sink = vaddvq_f32(s);
    (void)sink;
    return (double)iterations * 16 * 4 * 2;
}
#endif /* CK_ARM */

#if !defined(CK_X86) && !defined(CK_ARM)
int32_t ck_cpu_features(void) { return 0; }
#endif

/* ---------------------------------------------------------------- dispatch */

int32_t ck_int8_available(ck_kernel kernel) {
    const int32_t f = ck_cpu_features();
    switch (kernel) {
    case CK_KERNEL_PORTABLE: return 1;
    case CK_KERNEL_AVX2: return (f & CK_FEATURE_AVX2) != 0;
    case CK_KERNEL_AVX512_VNNI: return (f & CK_FEATURE_AVX512_VNNI) != 0;
    case CK_KERNEL_NEON_DOT: return (f & CK_FEATURE_NEON_DOT) != 0;
    case CK_KERNEL_NEON: return (f & CK_FEATURE_NEON) != 0;
    default: return 0;
    }
}

int ck_gemm_s8(ck_kernel kernel, int32_t m, const int8_t *a, int32_t lda, const ck_packed_s8 *w,
               const ck_epilogue *e, float *out_f32, int8_t *out_s8, int32_t ldo) {
    if (m <= 0) return 0;
    switch (kernel) {
    case CK_KERNEL_PORTABLE: gemm_portable(m, a, lda, w, e, out_f32, out_s8, ldo); return 0;
#ifdef CK_X86
    case CK_KERNEL_AVX2:
        if (!(ck_cpu_features() & CK_FEATURE_AVX2)) return -1;
        gemm_avx2(m, a, lda, w, e, out_f32, out_s8, ldo);
        return 0;
    case CK_KERNEL_AVX512_VNNI:
        if (!(ck_cpu_features() & CK_FEATURE_AVX512_VNNI)) return -1;
        gemm_vnni(m, a, lda, w, e, out_f32, out_s8, ldo);
        return 0;
#endif
#ifdef CK_ARM
    case CK_KERNEL_NEON_DOT:
        if (!(ck_cpu_features() & CK_FEATURE_NEON_DOT)) return -1;
        gemm_neon_dot(m, a, lda, w, e, out_f32, out_s8, ldo);
        return 0;
    case CK_KERNEL_NEON: gemm_neon(m, a, lda, w, e, out_f32, out_s8, ldo); return 0;
#endif
    default: return -1;
    }
}

double ck_peak_int8(ck_kernel kernel, int64_t iterations) {
    switch (kernel) {
#ifdef CK_X86
    case CK_KERNEL_AVX2: return (ck_cpu_features() & CK_FEATURE_AVX2) ? peak_avx2_int8(iterations) : 0;
    case CK_KERNEL_AVX512_VNNI:
        return (ck_cpu_features() & CK_FEATURE_AVX512_VNNI) ? peak_vnni(iterations) : 0;
#endif
#ifdef CK_ARM
    case CK_KERNEL_NEON_DOT:
        return (ck_cpu_features() & CK_FEATURE_NEON_DOT) ? peak_neon_dot(iterations) : 0;
    case CK_KERNEL_NEON: return peak_neon_int8(iterations);
#endif
    default: return 0;
    }
}

double ck_peak_f32(int32_t avx512, int64_t iterations) {
#ifdef CK_X86
    if (avx512 && __builtin_cpu_supports("avx512f")) return peak_f32_avx512(iterations);
    return (ck_cpu_features() & CK_FEATURE_AVX2) ? peak_f32_avx2(iterations) : 0;
#elif defined(CK_ARM)
    (void)avx512;
    return peak_f32_neon(iterations);
#else
    (void)avx512;
    (void)iterations;
    return 0;
#endif
}

/* ---------------------------------------------------------------- int8 dense stack (the planner's predictor) */

/* One row's quantization, shared by every variant: the largest |x| found on the bit patterns (for
   non-negative floats integer order is value order, and NaN sorts above +inf), then the scale. Returns
   the inverse scale to quantize with, or 0 when the row is all zeros (or too small to scale), NaN or
   ±inf; row_scale gets the scale (0 for zeros, NaN for a poisoned row, whose outputs become NaN). */
static inline float row_inverse_scale(uint32_t top, float *row_scale) {
    float largest;
    memcpy(&largest, &top, 4);
    if (top >= 0x7f800000u) {
        *row_scale = NAN;
        return 0.0f;
    }
    if (largest < 1e-30f) {
        *row_scale = 0.0f;
        return 0.0f;
    }
    *row_scale = largest / 127.0f;
    return 127.0f / largest;
}

static inline uint32_t largest_bits_scalar(const float *row, int32_t from, int32_t k, uint32_t top) {
    for (int32_t j = from; j < k; j++) {
        uint32_t bits;
        memcpy(&bits, row + j, 4);
        bits &= 0x7fffffffu;
        top = bits > top ? bits : top;
    }
    return top;
}

static void quantize_rows_portable(int32_t m, const float *x, int32_t ldx, int32_t k, int8_t *q, int32_t ldq,
                                   float *row_scale) {
    for (int32_t i = 0; i < m; i++) {
        const float *row = x + (size_t)i * ldx;
        int8_t *out = q + (size_t)i * ldq;
        const float inv = row_inverse_scale(largest_bits_scalar(row, 0, k, 0), &row_scale[i]);
        if (inv == 0.0f) memset(out, 0, (size_t)k);
        else ck_quantize_f32(row, k, inv, out);
    }
}

#ifdef CK_X86
/* The same operations 16 lanes at a time (the magic-number rounding of ck_quantize_f32, the same clamp),
   so the bytes equal the portable ones. */
__attribute__((target(VNNI_TARGET))) static void quantize_rows_avx512(int32_t m, const float *x, int32_t ldx,
                                                                      int32_t k, int8_t *q, int32_t ldq,
                                                                      float *row_scale) {
    const int32_t body = k / 16 * 16;
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f), magic = _mm512_set1_ps(12582912.0f);
    for (int32_t i = 0; i < m; i++) {
        const float *row = x + (size_t)i * ldx;
        int8_t *out = q + (size_t)i * ldq;
        __m512i top = _mm512_setzero_si512();
        for (int32_t j = 0; j < body; j += 16)
            top = _mm512_max_epu32(top, _mm512_and_si512(_mm512_loadu_si512((const void *)(row + j)), magnitude));
        const float inv = row_inverse_scale(largest_bits_scalar(row, body, k, (uint32_t)_mm512_reduce_max_epu32(top)),
                                            &row_scale[i]);
        if (inv == 0.0f) {
            memset(out, 0, (size_t)k);
            continue;
        }
        const __m512 scale = _mm512_set1_ps(inv);
        for (int32_t j = 0; j < body; j += 16) {
            __m512 u = _mm512_mul_ps(_mm512_loadu_ps(row + j), scale);
            u = _mm512_min_ps(_mm512_max_ps(u, lo), hi);
            u = _mm512_sub_ps(_mm512_add_ps(u, magic), magic);
            _mm_storeu_si128((__m128i *)(out + j), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(u)));
        }
        ck_quantize_f32(row + body, k - body, inv, out + body);
    }
}
#endif

#ifdef CK_ARM
static void quantize_rows_neon(int32_t m, const float *x, int32_t ldx, int32_t k, int8_t *q, int32_t ldq,
                               float *row_scale) {
    const int32_t body = k / 8 * 8;
    const uint32x4_t magnitude = vdupq_n_u32(0x7fffffffu);
    const float32x4_t lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f), magic = vdupq_n_f32(12582912.0f);
    for (int32_t i = 0; i < m; i++) {
        const float *row = x + (size_t)i * ldx;
        int8_t *out = q + (size_t)i * ldq;
        uint32x4_t top = vdupq_n_u32(0);
        for (int32_t j = 0; j < body; j += 4)
            top = vmaxq_u32(top, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(row + j)), magnitude));
        const float inv = row_inverse_scale(largest_bits_scalar(row, body, k, vmaxvq_u32(top)), &row_scale[i]);
        if (inv == 0.0f) {
            memset(out, 0, (size_t)k);
            continue;
        }
        const float32x4_t scale = vdupq_n_f32(inv);
        for (int32_t j = 0; j < body; j += 8) {
            int16x4_t half[2];
            for (int h = 0; h < 2; h++) {
                float32x4_t u = vmulq_f32(vld1q_f32(row + j + 4 * h), scale);
                u = vminq_f32(vmaxq_f32(u, lo), hi);
                u = vsubq_f32(vaddq_f32(u, magic), magic);
                half[h] = vmovn_s32(vcvtq_s32_f32(u));
            }
            vst1_s8(out + j, vmovn_s16(vcombine_s16(half[0], half[1])));
        }
        ck_quantize_f32(row + body, k - body, inv, out + body);
    }
}
#endif

void ck_quantize_rows_f32(int32_t m, const float *x, int32_t ldx, int32_t k, int8_t *q, int32_t ldq, float *row_scale) {
    quantize_rows_portable(m, x, ldx, k, q, ldq, row_scale);
}

/* The quantize step for a GEMM variant: vector code where the variant has its instructions. */
static void quantize_rows(ck_kernel kernel, int32_t m, const float *x, int32_t ldx, int32_t k, int8_t *q, int32_t ldq,
                          float *row_scale) {
    switch (kernel) {
#ifdef CK_X86
    case CK_KERNEL_AVX512_VNNI: quantize_rows_avx512(m, x, ldx, k, q, ldq, row_scale); return;
#endif
#ifdef CK_ARM
    case CK_KERNEL_NEON_DOT:
    case CK_KERNEL_NEON: quantize_rows_neon(m, x, ldx, k, q, ldq, row_scale); return;
#endif
    default: quantize_rows_portable(m, x, ldx, k, q, ldq, row_scale); return;
    }
}

int ck_dense_stack_s8(ck_kernel kernel, int32_t m, const float *in, int32_t ldi, const ck_dense_s8_layer *layers,
                      int32_t count, int8_t *quantized, int32_t ldq, float *row_scale, float *hidden0, float *hidden1,
                      int32_t ldh, float *out, int32_t ldo) {
    if (m <= 0) return 0;
    if (!ck_int8_available(kernel)) return -1;
    const float *x = in;
    int32_t ldx = ldi;
    for (int32_t l = 0; l < count; l++) {
        const ck_dense_s8_layer *layer = &layers[l];
        quantize_rows(kernel, m, x, ldx, layer->weights.k, quantized, ldq, row_scale);
        const ck_epilogue e = {layer->weight_scale, layer->bias, layer->relu, 1.0f, row_scale};
        const int last = l == count - 1;
        float *y = last ? out : (l % 2 == 0 ? hidden0 : hidden1);
        const int32_t ldy = last ? ldo : ldh;
        if (ck_gemm_s8(kernel, m, quantized, ldq, &layer->weights, &e, y, NULL, ldy) != 0) return -1;
        x = y;
        ldx = ldy;
    }
    return 0;
}
