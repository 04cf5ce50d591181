#ifndef CALLBRIEF_KB_KERNEL_H
#define CALLBRIEF_KB_KERNEL_H
#include <stdint.h>
int cb_has_avx2(void);
void cb_dots_i8(const int8_t *rows, const int8_t *q, int n, int dim, int32_t *out, int avx2);
void cb_dots_i8_rows(const int8_t *rows, const int32_t *idx, int m, const int8_t *q, int dim, int32_t *out, int avx2);
#endif
