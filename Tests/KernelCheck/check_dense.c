/* Checks every fp32 dense-layer variant this CPU runs (and the portable one) against a double-precision
   reference over random shapes: row and column tails, k not a multiple of 4, row strides larger than
   k, with and without bias and ReLU. The error bound is relative to Σ|a·w| (float rounding of a
   k-term sum). Plain C so it runs under qemu-user too (make test-kernels-arm64). Arguments name
   variants that must be present (e.g. neon). Exit status 0 when all checked variants agree. */
#include "ckernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x2545F4914F6CDD1Dull;
static uint32_t next(void) {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17;
    return (uint32_t)(state >> 16);
}
static float rand_sym(void) { return (float)((int32_t)(next() % 200001) - 100000) / 100000.0f; }

int main(int argc, char **argv) {
    const struct { ck_dense_kernel kernel; const char *name; } variants[] = {
        {CK_DENSE_PORTABLE, "portable"}, {CK_DENSE_AVX2, "avx2"}, {CK_DENSE_AVX512, "avx512"}, {CK_DENSE_NEON, "neon"},
    };
    int failures = 0;
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        if (!ck_dense_available(variants[v].kernel)) { printf("dense %-9s not on this CPU\n", variants[v].name); continue; }
        long cases = 0;
        double worst = 0;
        for (int trial = 0; trial < 400; trial++) {
            const int32_t m = 1 + (int32_t)(next() % 70), n = 1 + (int32_t)(next() % 150), k = 1 + (int32_t)(next() % 200);
            const int32_t lda = k + (int32_t)(next() % 3), ldo = n + (int32_t)(next() % 3);
            float *a = malloc(sizeof(float) * (size_t)m * lda), *w = malloc(sizeof(float) * (size_t)n * k);
            float *packed = malloc(sizeof(float) * (size_t)ck_dense_packed_count(n, k)), *bias = malloc(sizeof(float) * n);
            float *out = malloc(sizeof(float) * (size_t)m * ldo);
            for (int32_t i = 0; i < m * lda; i++) a[i] = rand_sym();
            for (int32_t i = 0; i < n * k; i++) w[i] = rand_sym();
            for (int32_t i = 0; i < n; i++) bias[i] = rand_sym();
            ck_pack_f32(n, k, w, packed);
            for (int mode = 0; mode < 4; mode++) {
                const float *b = (mode & 1) ? bias : NULL;
                const int32_t relu = (mode & 2) ? 1 : 0;
                for (int32_t i = 0; i < m * ldo; i++) out[i] = NAN;
                if (ck_dense_f32(variants[v].kernel, m, a, lda, k, packed, n, b, relu, out, ldo) != 0) { failures++; continue; }
                for (int32_t i = 0; i < m; i++)
                    for (int32_t j = 0; j < n; j++) {
                        double s = b ? b[j] : 0, mag = b ? fabs(b[j]) : 0;
                        for (int32_t q = 0; q < k; q++) {
                            s += (double)a[(size_t)i * lda + q] * w[(size_t)j * k + q];
                            mag += fabs((double)a[(size_t)i * lda + q] * w[(size_t)j * k + q]);
                        }
                        if (relu && s < 0) s = 0;
                        const double err = fabs(out[(size_t)i * ldo + j] - s) / (mag + 1e-30);
                        if (err > worst) worst = err;
                        if (!(err <= 2e-6 * (1 + k / 16.0))) {
                            if (failures++ < 5) printf("dense %s: m %d n %d k %d mode %d [%d][%d] = %g, expected %g\n",
                                                       variants[v].name, m, n, k, mode, i, j, out[(size_t)i * ldo + j], s);
                        }
                    }
                cases++;
            }
            free(a); free(w); free(packed); free(bias); free(out);
        }
        printf("dense %-9s %ld cases match the double reference (worst relative error %.2e): %s\n",
               variants[v].name, cases, worst, failures ? "NO" : "yes");
    }
    for (int i = 1; i < argc; i++) {
        int found = 0;
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
            if (!strcmp(argv[i], variants[v].name) && ck_dense_available(variants[v].kernel)) found = 1;
        if (!found) { printf("required dense variant %s was not checked\n", argv[i]); failures++; }
    }
    return failures ? 1 : 0;
}
