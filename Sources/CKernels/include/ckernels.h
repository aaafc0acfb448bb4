#ifndef CEREBELLUM_CKERNELS_H
#define CEREBELLUM_CKERNELS_H
/* int8 GEMM kernels for the neural engine, with one variant per instruction set and a portable
   one that every variant must match bit for bit.

   The GEMM computes, for m < M and n < N:
       acc[m][n] = sum_{k < Kp} A[m*lda + k] * W[n][k]          (int8 x int8 -> int32, exact)
       y         = (float)acc * scale[n] * row_scale[m] + bias[n] (dequantize, fused bias; the row
                                                                   scale only where one is given)
       y         = max(y, 0) if relu
   and stores y as float (out_f32), or as int8 (out_s8):
       q = round_half_even(clamp(y * out_inv_scale, -127, 127)).
   A is row-major int8 with any row stride lda; the kernel reads Kp bytes of each row, where Kp is K
   rounded up to a multiple of 4. Weights beyond K are zero in the packed layout, so whatever the A
   bytes past K hold contributes nothing: callers only need 64 bytes of readable slack after A.

   Packed weights: [Kp/4][Np][4] int8, Np = N rounded up to 16: for each group of four k, the four
   weights of every output channel side by side. That is the operand layout of x86 VPDPBUSD and ARM
   SDOT (a 4-byte dot product per 32-bit lane). comp[n] = 128 * sum_k W[n][k] corrects the
   unsigned-by-signed VPDPBUSD when A is biased by +128. */
#include <stdint.h>

typedef struct {
    int32_t n;            /* output channels */
    int32_t k;            /* inputs per output */
    int32_t np;           /* n rounded up to 16 */
    int32_t kp;           /* k rounded up to 4 */
    const int8_t *weights;  /* [kp/4][np][4] */
    const int32_t *comp;    /* [np]: 128 * row sums */
} ck_packed_s8;

typedef struct {
    const float *scale;     /* [n]: activation scale * weight scale of channel n */
    const float *bias;      /* [n] or NULL */
    int32_t relu;           /* 1: max(y, 0) */
    float out_inv_scale;    /* int8 output only: 1 / output scale */
    const float *row_scale; /* [m] or NULL: a scale per row of A (activations quantized row by row) */
} ck_epilogue;

/* CPU features the dispatcher may use (bit mask). */
enum {
    CK_FEATURE_AVX2 = 1 << 0,        /* x86 AVX2 + FMA */
    CK_FEATURE_AVX512_VNNI = 1 << 1, /* x86 AVX-512 F/BW/VL + VNNI */
    CK_FEATURE_NEON_DOT = 1 << 2,    /* ARMv8.2 dot product (SDOT) */
    CK_FEATURE_NEON = 1 << 3,        /* ARMv8.0 NEON: every aarch64 core */
};
int32_t ck_cpu_features(void);

/* Kernel variants. Each returns 0, or -1 when the CPU lacks the instructions. Exactly one of out_f32 /
   out_s8 is non-NULL; ldo is the output row stride in elements. */
typedef enum {
    CK_KERNEL_PORTABLE = 0,
    CK_KERNEL_AVX2 = 1,
    CK_KERNEL_AVX512_VNNI = 2,
    CK_KERNEL_NEON_DOT = 3,
    CK_KERNEL_NEON = 4,     /* ARMv8.0 NEON without the dot product (Cortex-A72, A53): widening multiplies */
} ck_kernel;

/* 1 when this CPU runs the variant (ck_gemm_s8 would not return -1), else 0. */
int32_t ck_int8_available(ck_kernel kernel);

int ck_gemm_s8(ck_kernel kernel, int32_t m, const int8_t *a, int32_t lda, const ck_packed_s8 *w,
               const ck_epilogue *e, float *out_f32, int8_t *out_s8, int32_t ldo);

/* Packs row-major int8 weights [n][k] into the layout above; packed holds kp/4*np*4 bytes and comp np. */
void ck_pack_s8(int32_t n, int32_t k, const int8_t *w, int8_t *packed, int32_t *comp);

/* Data movement around the GEMMs (plain C; the compiler vectorizes them).
   im2col: NHWC input [batch][h][w][c] → one row per output pixel holding its k×k window in
   (ky, kx, c) order, zeros over the padding; rows are row_stride elements apart. */
void ck_im2col_f32(const float *in, int32_t batch, int32_t h, int32_t w, int32_t c, int32_t k, int32_t stride,
                   int32_t pad, float *out, int32_t row_stride);
void ck_im2col_s8(const int8_t *in, int32_t batch, int32_t h, int32_t w, int32_t c, int32_t k, int32_t stride,
                  int32_t pad, int8_t *out, int32_t row_stride);
/* q = round_half_even(clamp(x * inv_scale, -127, 127)), the same rounding as the GEMM epilogue. */
void ck_quantize_f32(const float *x, int64_t n, float inv_scale, int8_t *out);
/* x[r][j] += bias[j] (bias may be NULL), then max(x, 0) if relu; in place. */
void ck_bias_relu_f32(float *x, int64_t rows, int32_t cols, const float *bias, int32_t relu);

/* Backward-pass helpers for training (plain C; the compiler vectorizes them).
   col2im: the adjoint of im2col. Zeroes `in_grad` [batch][h][w][c], then adds every patch-row
   element back to the input pixel it was read from (padding elements are dropped). */
void ck_col2im_f32(const float *patches, int32_t batch, int32_t h, int32_t w, int32_t c, int32_t k, int32_t stride,
                   int32_t pad, int32_t row_stride, float *in_grad);
/* dy[i] = y[i] > 0 ? dy[i] : 0, in place (the ReLU backward from its output y). */
void ck_relu_backward_f32(const float *y, float *dy, int64_t n);
/* sums[j] += Σ_r x[r][j] (a bias gradient). */
void ck_column_sums_f32(const float *x, int64_t rows, int32_t cols, float *sums);
/* Spatial soft-argmax over NHWC maps x [n][h·w][c]: per sample and channel, p = softmax over the h·w
   pixels, out[2c] = Σ p·u and out[2c+1] = Σ p·v, with pixel centres u = (2j+1)/w − 1, v = (2i+1)/h − 1
   (so coordinates lie in (−1, 1)). The probabilities are kept in `prob` (same layout as x) for backward. */
void ck_spatial_softargmax_f32(const float *x, int64_t n, int32_t h, int32_t w, int32_t c, float *prob, float *out);
/* Its backward: dx = p ⊙ (du·(u − U) + dv·(v − V)), from `prob`, `out` (U, V) and dout; dx is written. */
void ck_spatial_softargmax_backward_f32(const float *prob, const float *out, const float *dout, int64_t n, int32_t h,
                                        int32_t w, int32_t c, float *dx);

/* Peak-throughput probes: run `iterations` rounds of independent multiply-accumulate chains held in
   registers and return the number of arithmetic operations done (a multiply-add counts as 2), or 0
   when the CPU lacks the instructions. Time them to get this core's peak. */
double ck_peak_int8(ck_kernel kernel, int64_t iterations);
double ck_peak_f32(int32_t avx512, int64_t iterations);

/* fp32 dense layers for small batches (dense.c): out[m][j] = act(Σ_q a[m·lda + q] · W[j][q] + bias[j]) for
   j < n, act = ReLU when relu, else identity. Weights are packed once into 16-column panels,
   [ceil(n/16)][k][16] floats (zero past n): ck_dense_packed_count floats. Every variant walks the same
   loop nest; the vector ones fuse multiply-adds, so results agree with the portable one to float
   rounding (not bit for bit). ck_dense_f32 returns 0, or -1 when this CPU lacks the variant. */
typedef enum {
    CK_DENSE_PORTABLE = 0,
    CK_DENSE_AVX2 = 1,     /* x86 AVX2 + FMA: 4 rows × 16 columns per tile */
    CK_DENSE_AVX512 = 2,   /* x86 AVX-512F: 8 rows × 16 columns */
    CK_DENSE_NEON = 3,     /* ARMv8.0 NEON (every aarch64 core): 4 rows × 16 columns */
} ck_dense_kernel;

int32_t ck_dense_available(ck_dense_kernel kernel);
int32_t ck_dense_packed_count(int32_t n, int32_t k);
void ck_pack_f32(int32_t n, int32_t k, const float *w, float *packed);
int ck_dense_f32(ck_dense_kernel kernel, int32_t m, const float *a, int32_t lda, int32_t k, const float *packed,
                 int32_t n, const float *bias, int32_t relu, float *out, int32_t ldo);

/* The first of `count` points (rows of d floats, row stride d) within squared distance r2 of z, or -1 (the
   route search's merge check). Eight independent partial sums per point, so the compiler vectorizes it
   without reassociating a sum. */
int32_t ck_first_within_f32(const float *points, int32_t count, int32_t d, const float *z, float r2);

/* A stack of dense layers run back to back on m rows: layer i reads the previous one's output (the first
   reads `in`, row stride ldi), writes hidden[i % 2] (row stride ldh) or, for the last, `out` (row stride
   ldo). Returns 0, or -1 when this CPU lacks the variant. */
typedef struct {
    int32_t inputs, outputs;
    const float *packed;  /* ck_pack_f32 of the [outputs][inputs] weights */
    const float *bias;    /* [outputs] or NULL */
    int32_t relu;
} ck_dense_layer;
int ck_dense_stack_f32(ck_dense_kernel kernel, int32_t m, const float *in, int32_t ldi, const ck_dense_layer *layers,
                       int32_t count, float *hidden0, float *hidden1, int32_t ldh, float *out, int32_t ldo);

/* int8 dense layers for the planner's predictor: the same layer stack as ck_dense_stack_f32 with weights
   quantized per output channel (w_q = round(W / weight_scale), weight_scale[n] = max_k |W[n][k]| / 127)
   and each layer's input quantized per row (s = max_k |x[k]| / 127, q = round(x / s); a row of zeros
   gives q = 0; a row holding NaN or ±inf gives that layer NaN sums, which a ReLU after it turns to 0,
   as in the fp32 stack). The int32 sums are exact and every
   variant applies the same float operations, so every variant gives the portable one's results bit for
   bit. `quantized` holds m rows of ldq bytes (ldq ≥ every layer's k rounded up to 4) plus 64 bytes of
   slack; `row_scale` m floats. Returns 0, or -1 when this CPU lacks the variant. */
typedef struct {
    ck_packed_s8 weights;      /* ck_pack_s8 of the quantized [outputs][inputs] weights */
    const float *weight_scale; /* [outputs] */
    const float *bias;         /* [outputs] or NULL */
    int32_t relu;
} ck_dense_s8_layer;
int ck_dense_stack_s8(ck_kernel kernel, int32_t m, const float *in, int32_t ldi, const ck_dense_s8_layer *layers,
                      int32_t count, int8_t *quantized, int32_t ldq, float *row_scale, float *hidden0, float *hidden1,
                      int32_t ldh, float *out, int32_t ldo);
/* Quantizes m rows of k floats (row stride ldx) one scale per row, as ck_dense_stack_s8 does. */
void ck_quantize_rows_f32(int32_t m, const float *x, int32_t ldx, int32_t k, int8_t *q, int32_t ldq, float *row_scale);

#endif
