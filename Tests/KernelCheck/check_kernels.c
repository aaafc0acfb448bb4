/* Checks every int8 GEMM variant this CPU runs against the portable one, bit for bit, over random
   shapes (row and channel tails, K not a multiple of 4, float and int8 outputs, with and without
   bias and ReLU). Plain C so it also runs on other architectures under qemu-user: see
   `make test-kernels-arm64`. Arguments name variants that must be present (e.g. neon-dot).
   Exit status 0 when every variant present matches and every required one was checked. */
#include "ckernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint32_t next(void) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (uint32_t)(state >> 16);
}
/* Every int8 value, -128 included (the kernels are exact for all of them). */
static int8_t rand_s8(void) { return (int8_t)(next() & 0xff); }
static float rand_unit(void) { return (float)(next() % 100000) / 100000.0f; }

/* Random int8 dense stacks (1-3 layers, ReLU between, row and channel tails, rows of zeros, a row with NaN or
   inf, wide and tiny magnitudes) through `kernel` and the portable variant: the output bytes must agree. The
   portable one must also track the float stack (relative error under 5 % of the output range per row set).
   Returns the number of stacks checked; failures are added to *failures. */
static long check_dense_stacks(ck_kernel kernel, const char *name, int *failures) {
    long cases = 0;
    for (int trial = 0; trial < 200; trial++) {
        const int32_t layers = 1 + (int32_t)(next() % 3), m = 1 + (int32_t)(next() % 40);
        int32_t width[4];
        for (int l = 0; l <= layers; l++) width[l] = 1 + (int32_t)(next() % 140);
        int32_t widest = 1, ldq = 4;
        ck_dense_s8_layer stack[3];
        ck_dense_layer reference[3];
        void *owned[3][6];
        for (int l = 0; l < layers; l++) {
            const int32_t k = width[l], n = width[l + 1], np = (n + 15) / 16 * 16, kp = (k + 3) / 4 * 4;
            float *w = malloc(sizeof(float) * n * k), *ws = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
            int8_t *wq = malloc((size_t)n * k), *packed = malloc((size_t)np * kp);
            int32_t *comp = malloc(sizeof(int32_t) * np);
            float *packed_f = malloc(sizeof(float) * ck_dense_packed_count(n, k));
            for (int32_t o = 0; o < n; o++) {
                float largest = 0;
                for (int32_t i = 0; i < k; i++) {
                    const float v = (rand_unit() - 0.5f) * 0.4f;
                    w[o * k + i] = v;
                    largest = v > largest ? v : (-v > largest ? -v : largest);
                }
                ws[o] = largest > 0 ? largest / 127.0f : 1.0f;
                for (int32_t i = 0; i < k; i++) {
                    const float u = w[o * k + i] / ws[o];
                    wq[o * k + i] = (int8_t)(u < 0 ? (int32_t)(u - 0.5f) : (int32_t)(u + 0.5f));
                }
                b[o] = (rand_unit() - 0.5f) * 0.2f;
            }
            ck_pack_s8(n, k, wq, packed, comp);
            ck_pack_f32(n, k, w, packed_f);
            const int32_t relu = l < layers - 1;
            stack[l] = (ck_dense_s8_layer){{n, k, np, kp, packed, comp}, ws, b, relu};
            reference[l] = (ck_dense_layer){k, n, packed_f, b, relu};
            owned[l][0] = w; owned[l][1] = ws; owned[l][2] = b; owned[l][3] = wq; owned[l][4] = packed; owned[l][5] = comp;
            if (n > widest) widest = n;
            if (kp > ldq) ldq = kp;
        }
        const int32_t in = width[0], out = width[layers], ldi = in + (int32_t)(next() % 3);
        float *x = malloc(sizeof(float) * m * ldi), *h0 = malloc(sizeof(float) * m * widest),
              *h1 = malloc(sizeof(float) * m * widest), *y0 = malloc(sizeof(float) * m * out),
              *y1 = malloc(sizeof(float) * m * out), *yf = malloc(sizeof(float) * m * out), *rs = malloc(sizeof(float) * m);
        int8_t *q = calloc((size_t)m * ldq + 64, 1);
        const float magnitude = (trial % 4 == 0) ? 1e-3f : (trial % 4 == 1 ? 50.0f : 1.0f);
        for (int32_t i = 0; i < m * ldi; i++) x[i] = (rand_unit() - 0.5f) * 2 * magnitude;
        if (m > 2 && trial % 3 == 0) memset(x + ldi, 0, sizeof(float) * in);            /* a row of zeros */
        const int32_t poisoned = (m > 3 && trial % 5 == 0) ? 2 : -1;
        if (poisoned >= 0) x[poisoned * ldi + (int32_t)(next() % in)] = (trial % 10) ? 1.0f / 0.0f : 0.0f / 0.0f;
        ck_dense_stack_s8(CK_KERNEL_PORTABLE, m, x, ldi, stack, layers, q, ldq, rs, h0, h1, widest, y0, out);
        ck_dense_stack_s8(kernel, m, x, ldi, stack, layers, q, ldq, rs, h0, h1, widest, y1, out);
        if (memcmp(y0, y1, sizeof(float) * (size_t)m * out)) {
            if ((*failures)++ < 5) printf("%s int8 stack differs: layers %d m %d widths %d %d\n", name, layers, m, width[0], width[1]);
        }
        ck_dense_stack_f32(CK_DENSE_PORTABLE, m, x, ldi, reference, layers, h0, h1, widest, yf, out);
        float diff = 0, range = 1e-30f;
        for (int32_t i = 0; i < m * out; i++) {
            if (i / out == poisoned) continue;
            const float d = yf[i] > y0[i] ? yf[i] - y0[i] : y0[i] - yf[i], a = yf[i] > 0 ? yf[i] : -yf[i];
            diff = d > diff ? d : diff;
            range = a > range ? a : range;
        }
        if (diff > 0.05f * range) {
            if ((*failures)++ < 5) printf("int8 stack strays from fp32: %g of %g (layers %d)\n", diff, range, layers);
        }
        cases++;
        for (int l = 0; l < layers; l++) {
            for (int j = 0; j < 6; j++) free(owned[l][j]);
            free((void *)reference[l].packed);
        }
        free(x); free(h0); free(h1); free(y0); free(y1); free(yf); free(rs); free(q);
    }
    return cases;
}

int main(int argc, char **argv) {
    const int32_t features = ck_cpu_features();
    const struct { ck_kernel kernel; int32_t feature; const char *name; } variants[] = {
        {CK_KERNEL_AVX2, CK_FEATURE_AVX2, "avx2"},
        {CK_KERNEL_AVX512_VNNI, CK_FEATURE_AVX512_VNNI, "avx512-vnni"},
        {CK_KERNEL_NEON_DOT, CK_FEATURE_NEON_DOT, "neon-dot"},
        {CK_KERNEL_NEON, CK_FEATURE_NEON, "neon"},
    };
    int checked = 0, failures = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        if (!(features & variants[v].feature)) { printf("%-12s not on this CPU\n", variants[v].name); continue; }
        long cases = 0;
        for (int trial = 0; trial < 300; trial++) {
            const int32_t m = 1 + (int32_t)(next() % 70), n = 1 + (int32_t)(next() % 80), k = 1 + (int32_t)(next() % 300);
            const int32_t np = (n + 15) / 16 * 16, kp = (k + 3) / 4 * 4, lda = kp + (int32_t)(next() % 3) * 4;
            int8_t *a = malloc((size_t)m * lda + 64), *w = malloc((size_t)n * k), *packed = malloc((size_t)np * kp);
            int32_t *comp = malloc(sizeof(int32_t) * np);
            float *scale = malloc(sizeof(float) * n), *bias = malloc(sizeof(float) * n), *rows = malloc(sizeof(float) * m);
            for (int32_t i = 0; i < m; i++) rows[i] = 0.01f + rand_unit();
            for (int32_t i = 0; i < m * lda + 64; i++) a[i] = rand_s8();
            for (int32_t i = 0; i < n * k; i++) w[i] = rand_s8();
            for (int32_t i = 0; i < n; i++) { scale[i] = 1e-4f * (0.5f + rand_unit()); bias[i] = rand_unit() - 0.5f; }
            ck_pack_s8(n, k, w, packed, comp);
            const ck_packed_s8 pw = {n, k, np, kp, packed, comp};
            const int32_t ldo = n + (int32_t)(next() % 5);
            for (int mode = 0; mode < 8; mode++) {
                const ck_epilogue e = {scale, (mode & 1) ? bias : NULL, (mode & 2) ? 1 : 0, 1.0f / (0.02f + rand_unit()),
                                       (mode & 4) ? rows : NULL};
                float *f0 = calloc((size_t)m * ldo, sizeof(float)), *f1 = calloc((size_t)m * ldo, sizeof(float));
                int8_t *q0 = calloc((size_t)m * ldo, 1), *q1 = calloc((size_t)m * ldo, 1);
                ck_gemm_s8(CK_KERNEL_PORTABLE, m, a, lda, &pw, &e, f0, NULL, ldo);
                ck_gemm_s8(variants[v].kernel, m, a, lda, &pw, &e, f1, NULL, ldo);
                ck_gemm_s8(CK_KERNEL_PORTABLE, m, a, lda, &pw, &e, NULL, q0, ldo);
                ck_gemm_s8(variants[v].kernel, m, a, lda, &pw, &e, NULL, q1, ldo);
                if (memcmp(f0, f1, sizeof(float) * (size_t)m * ldo) || memcmp(q0, q1, (size_t)m * ldo)) {
                    if (failures++ < 5) printf("%s differs: m %d n %d k %d lda %d mode %d\n", variants[v].name, m, n, k, lda, mode);
                }
                cases++;
                free(f0); free(f1); free(q0); free(q1);
            }
            free(a); free(w); free(packed); free(comp); free(scale); free(bias); free(rows);
        }
        printf("%-12s %ld cases identical to portable: %s\n", variants[v].name, cases, failures ? "NO" : "yes");
        const int before = failures;
        const long stacks = check_dense_stacks(variants[v].kernel, variants[v].name, &failures);
        printf("%-12s %ld int8 dense stacks identical to portable: %s\n", variants[v].name, stacks,
               failures > before ? "NO" : "yes");
        checked++;
    }
    for (int i = 1; i < argc; i++) {
        int found = 0;
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
            if (!strcmp(argv[i], variants[v].name) && (features & variants[v].feature)) found = 1;
        if (!found) { printf("required variant %s was not checked\n", argv[i]); failures++; }
    }
    printf("%d variant(s) checked, %d failure(s)\n", checked, failures);
    return failures ? 1 : 0;
}
