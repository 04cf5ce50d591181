package e5

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/cpu"

	"github.com/callbrief/callbrief/models"
)

// Build compiles the engine's C source from the cache into a shared
// library next to it and returns the library's path. The library's name
// carries the source's sha256 and the instruction set, so a new engine
// version or another CPU gets its own build, and an existing build is
// reused without running the compiler. The source is checked against the
// manifest's sha256 before it is compiled.
func Build(ctx context.Context, cache *models.Cache, cc string, log *slog.Logger) (string, error) {
	src, err := cache.Path(Artifact, "e5.c")
	if err != nil {
		return "", err
	}
	if _, err := cache.Path(Artifact, "e5.h"); err != nil {
		return "", err
	}
	art, err := cache.Manifest.Artifact(Artifact)
	if err != nil {
		return "", err
	}
	var srcSum string
	for _, f := range art.Files {
		if f.Name != "e5.c" && f.Name != "e5.h" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(src), f.Name))
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrEngine, err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != f.SHA256 {
			return "", fmt.Errorf("%w: %s has sha256 %s, want %s: delete it and %s", models.ErrChecksum, f.Name, got, f.SHA256, models.SetupHint)
		}
		if f.Name == "e5.c" {
			srcSum = f.SHA256
		}
	}
	// -mavx2/-mfma turn on the engine's AVX2 path; without them it uses its
	// scalar fallback, so the flags follow this CPU.
	flags := []string{"-O2", "-fopenmp", "-shared", "-fPIC"}
	isa := "generic"
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		flags = append(flags, "-mavx2", "-mfma")
		isa = "avx2"
	}
	lib := filepath.Join(filepath.Dir(src), fmt.Sprintf("libe5-%s-%s.so", srcSum[:12], isa))
	if _, err := os.Stat(lib); err == nil {
		return lib, nil
	}
	if cc == "" {
		cc = os.Getenv("CC")
	}
	if cc == "" {
		cc = "cc"
	}
	tmp := fmt.Sprintf("%s.%d.tmp", lib, os.Getpid())
	args := append(flags, "-o", tmp, src, "-lm")
	log.Info("building the e5 engine", "compiler", cc, "flags", strings.Join(flags, " "), "output", lib)
	cmd := exec.CommandContext(ctx, cc, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("%w: %s %s: %w: %s (a C compiler with OpenMP is needed: apt-get install gcc)", ErrEngine, cc, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	// Rename is atomic, so two processes building at once both end with
	// a complete library.
	if err := os.Rename(tmp, lib); err != nil {
		return "", fmt.Errorf("%w: %w", ErrEngine, err)
	}
	return lib, nil
}
