#include <cblas.h>

/* LAPACK, as libopenblas exports it (Debian ships no lapack.h beside it): the Fortran routines, every
 * argument by address, matrices column-major; each character argument has a hidden length after the
 * named ones (gfortran's calling convention). */
#include <stddef.h>
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb,
            int *info, size_t uplo_length);
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
            const int *lwork, int *info, size_t jobz_length, size_t uplo_length);
