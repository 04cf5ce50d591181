package models

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func tgz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// testCache builds a cache whose registry client writes a package archive
// made in the test, and counts how often it is called.
func testCache(t *testing.T, archive []byte, fileSum string) (*Cache, *int) {
	t.Helper()
	m := &Manifest{Artifacts: []Artifact{{
		Name:    "vad",
		Package: Package{Registry: "npm", Name: "pkg", Version: "1.0.0", SHA256: sum(archive)},
		Files:   []File{{Path: "package/model.onnx", Name: "model.onnx", SHA256: fileSum}},
	}}}
	calls := 0
	c := &Cache{Dir: t.TempDir(), Manifest: m, Logger: nil, Runner: func(ctx context.Context, dir string, p Package) error {
		calls++
		return os.WriteFile(filepath.Join(dir, "pkg-1.0.0.tgz"), archive, 0o644)
	}}
	c.Logger = discard()
	return c, &calls
}

func TestFetchVerifiesAndIsIdempotent(t *testing.T) {
	model := []byte("weights")
	archive := tgz(t, map[string][]byte{"package/model.onnx": model, "package/README": []byte("x")})
	c, calls := testCache(t, archive, sum(model))
	if _, err := c.Path("vad", "model.onnx"); !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("before fetch: want ErrMissing naming make setup, got %v", err)
	}
	ctx := context.Background()
	if err := c.Fetch(ctx, "vad"); err != nil {
		t.Fatal(err)
	}
	if err := c.Fetch(ctx, "vad"); err != nil {
		t.Fatal(err)
	}
	if *calls != 1 {
		t.Fatalf("registry client called %d times, want 1 (second fetch must be a no-op)", *calls)
	}
	p, err := c.Path("vad", "model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, model) {
		t.Fatalf("cached file = %q", got)
	}
	// A corrupted cached file is detected and repaired from the kept archive.
	os.WriteFile(p, []byte("corrupt"), 0o644)
	if err := c.Verify("vad"); !errors.Is(err, ErrChecksum) {
		t.Fatalf("want ErrChecksum, got %v", err)
	}
	if err := c.Fetch(ctx, "vad"); err != nil {
		t.Fatal(err)
	}
	if *calls != 1 {
		t.Fatalf("repair re-downloaded: %d calls", *calls)
	}
}

func TestFetchRejectsWrongPackage(t *testing.T) {
	model := []byte("weights")
	archive := tgz(t, map[string][]byte{"package/model.onnx": model})
	c, _ := testCache(t, archive, sum(model))
	c.Manifest.Artifacts[0].Package.SHA256 = strings.Repeat("0", 64)
	err := c.Fetch(context.Background(), "vad")
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("want ErrChecksum, got %v", err)
	}
}

func TestFetchRejectsWrongFile(t *testing.T) {
	archive := tgz(t, map[string][]byte{"package/model.onnx": []byte("tampered")})
	c, _ := testCache(t, archive, sum([]byte("weights")))
	if err := c.Fetch(context.Background(), "vad"); !errors.Is(err, ErrChecksum) {
		t.Fatalf("want ErrChecksum, got %v", err)
	}
	if _, err := c.Path("vad", "model.onnx"); !errors.Is(err, ErrMissing) {
		t.Fatalf("a file with a bad checksum must not be left in the cache: %v", err)
	}
}

func TestFetchClientFailure(t *testing.T) {
	c, _ := testCache(t, []byte("x"), sum([]byte("y")))
	c.Runner = func(ctx context.Context, dir string, p Package) error { return errors.New("E404 not found") }
	err := c.Fetch(context.Background(), "vad")
	if !errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "pkg@1.0.0") {
		t.Fatalf("want ErrFetch naming the package, got %v", err)
	}
}

func TestEmbeddedManifest(t *testing.T) {
	m, err := LoadManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"onnxruntime", "silero-vad"} {
		if _, err := m.Artifact(name); err != nil {
			t.Error(err)
		}
	}
}

func TestParseManifestErrors(t *testing.T) {
	for name, in := range map[string]string{
		"unknown key":  `{"artifacts":[],"extra":1}`,
		"bad registry": `{"artifacts":[{"name":"a","package":{"registry":"cran","name":"x","version":"1","sha256":"` + strings.Repeat("a", 64) + `"},"files":[{"path":"p","name":"n","sha256":"` + strings.Repeat("a", 64) + `"}]}]}`,
		"bad sha":      `{"artifacts":[{"name":"a","package":{"registry":"npm","name":"x","version":"1","sha256":"zz"},"files":[]}]}`,
		"not json":     `{`,
	} {
		if _, err := ParseManifest([]byte(in)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
