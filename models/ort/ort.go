// Package ort starts ONNX Runtime once per process. ONNX Runtime has one
// global environment; every model that runs on it (Silero VAD, speech and
// speaker models) goes through Init so that the shared library path is set
// exactly once and a wrong or missing library is reported by name.
package ort

import (
	"errors"
	"fmt"
	"os"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"
)

// ErrRuntime means ONNX Runtime could not be loaded.
var ErrRuntime = errors.New("ort: ONNX Runtime unavailable")

var (
	mu      sync.Mutex
	libPath string
)

// Init loads the ONNX Runtime shared library at path and creates the
// process-wide environment. Calling it again with the same path is a no-op;
// with another path it is an error, because the runtime cannot be swapped.
func Init(path string) error {
	mu.Lock()
	defer mu.Unlock()
	if libPath != "" {
		if path != libPath {
			return fmt.Errorf("%w: already initialised from %s, cannot switch to %s", ErrRuntime, libPath, path)
		}
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: shared library %s: %w", ErrRuntime, path, err)
	}
	onnx.SetSharedLibraryPath(path)
	if err := onnx.InitializeEnvironment(onnx.WithLogLevelError()); err != nil {
		return fmt.Errorf("%w: loading %s: %w", ErrRuntime, path, err)
	}
	libPath = path
	return nil
}

// Version returns the loaded runtime's version, or "" before Init.
func Version() string {
	mu.Lock()
	defer mu.Unlock()
	if libPath == "" {
		return ""
	}
	return onnx.GetVersion()
}
