// Dot products of one int8 query against many int8 rows: the inner loop
// of the in-process index. AVX2 when the CPU has it (chosen at run time,
// so the binary still runs on older machines), portable C otherwise.
#include "kernel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx2")))
static void dots_avx2(const int8_t *rows, const int8_t *q, int n, int dim, int32_t *out) {
	// maddubs multiplies unsigned by signed bytes, so the query's sign is
	// moved onto the row (sign_epi8) and its magnitude used unsigned. Rows
	// and query hold -127..127 only, so a pair sum (at most 2*127*127)
	// never saturates int16.
	const int blocks = dim / 32;
	const __m256i ones = _mm256_set1_epi16(1);
	for (int r = 0; r < n; r++) {
		const int8_t *row = rows + (size_t)r * dim;
		__m256i acc = _mm256_setzero_si256();
		for (int b = 0; b < blocks; b++) {
			__m256i qv = _mm256_loadu_si256((const __m256i *)(q + b * 32));
			__m256i rv = _mm256_loadu_si256((const __m256i *)(row + b * 32));
			__m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(qv), _mm256_sign_epi8(rv, qv));
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p16, ones));
		}
		__m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
		s = _mm_hadd_epi32(s, s);
		s = _mm_hadd_epi32(s, s);
		int32_t sum = _mm_cvtsi128_si32(s);
		for (int i = blocks * 32; i < dim; i++) sum += (int32_t)row[i] * q[i];
		out[r] = sum;
	}
}
#endif

static void dots_c(const int8_t *rows, const int8_t *q, int n, int dim, int32_t *out) {
	for (int r = 0; r < n; r++) {
		const int8_t *row = rows + (size_t)r * dim;
		int32_t sum = 0;
		for (int i = 0; i < dim; i++) sum += (int32_t)row[i] * q[i];
		out[r] = sum;
	}
}

int cb_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

void cb_dots_i8(const int8_t *rows, const int8_t *q, int n, int dim, int32_t *out, int avx2) {
#if defined(__x86_64__) || defined(__i386__)
	if (avx2) {
		dots_avx2(rows, q, n, dim, out);
		return;
	}
#endif
	dots_c(rows, q, n, dim, out);
}

void cb_dots_i8_rows(const int8_t *rows, const int32_t *idx, int m, const int8_t *q, int dim, int32_t *out, int avx2) {
	for (int i = 0; i < m; i++) {
		cb_dots_i8(rows + (size_t)idx[i] * dim, q, 1, dim, out + i, avx2);
	}
}
