//go:build cgo

package memindex

// #cgo CFLAGS: -O3
// #include "kernel.h"
import "C"

import "unsafe"

var hasAVX2 = C.cb_has_avx2() != 0

// kernelName says which dot-product kernel runs, for benchmarks and logs.
var kernelName = map[bool]string{true: "avx2", false: "c"}[hasAVX2]

// dotsI8 writes the dot product of q with each of the n rows (row-major,
// dim wide) into out. The slices stay pinned for the call because cgo
// pins Go memory passed to C for the duration of the call.
func dotsI8(rows []int8, q []int8, n, dim int, out []int32) {
	if n == 0 {
		return
	}
	avx := C.int(0)
	if hasAVX2 {
		avx = 1
	}
	C.cb_dots_i8((*C.int8_t)(unsafe.Pointer(&rows[0])), (*C.int8_t)(unsafe.Pointer(&q[0])), C.int(n), C.int(dim), (*C.int32_t)(unsafe.Pointer(&out[0])), avx)
}

// dotsI8Rows is dotsI8 over the rows listed in idx only.
func dotsI8Rows(rows []int8, idx []int32, q []int8, dim int, out []int32) {
	if len(idx) == 0 {
		return
	}
	avx := C.int(0)
	if hasAVX2 {
		avx = 1
	}
	C.cb_dots_i8_rows((*C.int8_t)(unsafe.Pointer(&rows[0])), (*C.int32_t)(unsafe.Pointer(&idx[0])), C.int(len(idx)), (*C.int8_t)(unsafe.Pointer(&q[0])), C.int(dim), (*C.int32_t)(unsafe.Pointer(&out[0])), avx)
}
