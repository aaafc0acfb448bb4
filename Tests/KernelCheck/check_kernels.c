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
static int8_t rand_s8(void) { return (int8_t)((int32_t)(next() % 255) - 127); }
static float rand_unit(void) { return (float)(next() % 100000) / 100000.0f; }

int main(int argc, char **argv) {
    const int32_t features = ck_cpu_features();
    const struct { ck_kernel kernel; int32_t feature; const char *name; } variants[] = {
        {CK_KERNEL_AVX2, CK_FEATURE_AVX2, "avx2"},
        {CK_KERNEL_AVX512_VNNI, CK_FEATURE_AVX512_VNNI, "avx512-vnni"},
        {CK_KERNEL_NEON_DOT, CK_FEATURE_NEON_DOT, "neon-dot"},
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
            float *scale = malloc(sizeof(float) * n), *bias = malloc(sizeof(float) * n);
            for (int32_t i = 0; i < m * lda + 64; i++) a[i] = rand_s8();
            for (int32_t i = 0; i < n * k; i++) w[i] = rand_s8();
            for (int32_t i = 0; i < n; i++) { scale[i] = 1e-4f * (0.5f + rand_unit()); bias[i] = rand_unit() - 0.5f; }
            ck_pack_s8(n, k, w, packed, comp);
            const ck_packed_s8 pw = {n, k, np, kp, packed, comp};
            const int32_t ldo = n + (int32_t)(next() % 5);
            for (int mode = 0; mode < 4; mode++) {
                const ck_epilogue e = {scale, (mode & 1) ? bias : NULL, (mode & 2) ? 1 : 0, 1.0f / (0.02f + rand_unit())};
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
            free(a); free(w); free(packed); free(comp); free(scale); free(bias);
        }
        printf("%-12s %ld cases identical to portable: %s\n", variants[v].name, cases, failures ? "NO" : "yes");
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
