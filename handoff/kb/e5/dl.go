package e5

// The engine is C source that arrives in the model cache, not in this
// repository, so it cannot be compiled into the binary by cgo. Instead it
// is built into a shared library in the cache (see build.go) and opened
// here with dlopen, the way onnxruntime_go loads libonnxruntime: cgo only
// provides the trampolines that call through the resolved pointers.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef void *(*e5_load_fn)(const char *);
typedef void (*e5_free_fn)(void *);
typedef int (*e5_dim_fn)(const void *);
typedef int (*e5_batch_fn)(void *, const char **, int, int, float *);
typedef void (*omp_threads_fn)(int);

typedef struct {
	void *handle;
	e5_load_fn load;
	e5_free_fn free;
	e5_dim_fn dim;
	e5_batch_fn batch;
	omp_threads_fn threads;
} e5_api;

static const char *e5_open(const char *lib, e5_api *api) {
	api->handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!api->handle) return dlerror();
	api->load = (e5_load_fn)dlsym(api->handle, "e5_load");
	api->free = (e5_free_fn)dlsym(api->handle, "e5_free");
	api->dim = (e5_dim_fn)dlsym(api->handle, "e5_dim");
	api->batch = (e5_batch_fn)dlsym(api->handle, "e5_embed_batch");
	// From the engine's OpenMP runtime, found through the library's
	// dependencies; optional.
	api->threads = (omp_threads_fn)dlsym(api->handle, "omp_set_num_threads");
	if (!api->load || !api->free || !api->dim || !api->batch) return "missing e5_* symbols";
	return NULL;
}

static void *e5_call_load(e5_api *a, const char *path) { return a->load(path); }
static void e5_call_free(e5_api *a, void *m) { a->free(m); }
static int e5_call_dim(e5_api *a, void *m) { return a->dim(m); }
// The OpenMP thread count is set in the same C call as the batch: it is a
// property of the calling OS thread, and a goroutine's next cgo call may
// run on another one.
static int e5_call_batch(e5_api *a, void *m, const char **texts, int n, int is_query, float *out, int threads) {
	if (threads > 0 && a->threads) a->threads(threads);
	return a->batch(m, texts, n, is_query, out);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// engine is an opened library and loaded model. Not safe for concurrent
// use; Embedder serialises calls.
type engine struct {
	api     C.e5_api
	model   unsafe.Pointer
	dim     int
	threads int // for a batch of texts; one text runs on one thread
}

func openEngine(lib, model string, threads int) (*engine, error) {
	e := &engine{}
	clib := C.CString(lib)
	defer C.free(unsafe.Pointer(clib))
	if msg := C.e5_open(clib, &e.api); msg != nil {
		return nil, fmt.Errorf("%w: open %s: %s", ErrEngine, lib, C.GoString(msg))
	}
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	e.threads = threads
	cmodel := C.CString(model)
	defer C.free(unsafe.Pointer(cmodel))
	e.model = C.e5_call_load(&e.api, cmodel)
	if e.model == nil {
		return nil, fmt.Errorf("%w: e5_load could not read %s", ErrEngine, model)
	}
	e.dim = int(C.e5_call_dim(&e.api, e.model))
	return e, nil
}

// embed writes len(texts) rows of dim floats into out.
func (e *engine) embed(texts []string, query bool, out []float32) error {
	cs := C.malloc(C.size_t(len(texts)) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(cs)
	ptrs := unsafe.Slice((**C.char)(cs), len(texts))
	for i, t := range texts {
		ptrs[i] = C.CString(t)
	}
	defer func() {
		for _, p := range ptrs {
			C.free(unsafe.Pointer(p))
		}
	}()
	q := C.int(0)
	if query {
		q = 1
	}
	// Every call on the configured threads (all cores by default), a
	// single text too. One thread for a single text was tried: beside a
	// 4-caller soak its p99 was lower (151-166 ms against 210-256 ms) but
	// its median higher (85-89 against 49-72 ms), and on a quiet machine it
	// lost on both (the brief's KB search p50 22 ms against 9 ms, p99 83
	// against 52 ms; the turn's e5 within embed_wait 0.6% against 7.7%).
	threads := e.threads
	if rc := C.e5_call_batch(&e.api, e.model, (**C.char)(cs), C.int(len(texts)), q, (*C.float)(unsafe.Pointer(&out[0])), C.int(threads)); rc != 0 {
		return fmt.Errorf("%w: e5_embed_batch returned %d", ErrEngine, int(rc))
	}
	return nil
}

// close frees the model. The library stays mapped: unloading a library
// that started OpenMP threads is not safe.
func (e *engine) close() {
	if e.model != nil {
		C.e5_call_free(&e.api, e.model)
		e.model = nil
	}
}
