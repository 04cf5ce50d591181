// Package testenv finds what tests need outside the repository: the model
// cache, Debian's test recordings and the shared labelled data. A missing
// model fails the test with the command that installs it (CI always runs
// setup first); missing shared data skips with a message saying so.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/callbrief/callbrief/models"
)

// RepoRoot is the repository's top folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// SharedData returns ../shared/data/<sub> beside the repository, or skips.
func SharedData(t testing.TB, sub string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(), "..", "shared", "data", sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data absent: %s not found (it sits beside the repository in CI)", filepath.Join("..", "shared", "data", sub))
	}
	return p
}

// Librivox is Debian pocketsphinx-testdata's folder of English recordings.
const Librivox = "/usr/share/pocketsphinx/test/data/librivox"

// NeedLibrivox fails when the Debian test recordings are not installed.
func NeedLibrivox(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(Librivox, "transcription")); err != nil {
		t.Fatalf("pocketsphinx-testdata is not installed (%v): run `make setup-test`", err)
	}
	return Librivox
}

// Model returns a cached model file, failing with the setup command if it is
// missing.
func Model(t testing.TB, artifact, file string) string {
	t.Helper()
	c, err := models.NewCache(models.DefaultCacheDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Path(artifact, file)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return p
}
