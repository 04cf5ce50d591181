package engines

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr/speechd"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/internal/leakcheck"
	"github.com/callbrief/callbrief/models"
)

func needSphinx(t *testing.T) config.Config {
	t.Helper()
	c := config.Default()
	if _, err := os.Stat(c.ASR.Sphinx.ModelDir); err != nil {
		t.Skipf("pocketsphinx model absent (%v): run scripts/setup.sh", err)
	}
	return c
}

func TestAutoWithoutSpeechServerIsSphinxAlone(t *testing.T) {
	c := needSphinx(t)
	set, err := New(context.Background(), c, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if set.Recognizer.Name() != "sphinx" || set.Supervisor != nil || !strings.Contains(set.Note, "not installed") || !set.Ready() {
		t.Fatalf("auto with an empty cache: %s %+v", set.Recognizer.Name(), set.Status())
	}
}

func TestAutoWithBaseURLSupervisesNothing(t *testing.T) {
	c := needSphinx(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c.ASR.OpenAI.BaseURL, c.ASR.OpenAI.Model = srv.URL+"/v1", "sensevoice"
	set, err := New(context.Background(), c, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if set.Recognizer.Name() != "openai:sensevoice+fallback:sphinx" || set.Supervisor != nil {
		t.Fatalf("auto with base_url: %+v", set.Status())
	}
}

func TestSphinxAndUnknown(t *testing.T) {
	c := needSphinx(t)
	c.ASR.Engine = "sphinx"
	set, err := New(context.Background(), c, t.TempDir(), nil)
	if err != nil || set.Recognizer.Name() != "sphinx" {
		t.Fatalf("sphinx: %v", err)
	}
	set.Close()
	c.ASR.Engine = "kaldi"
	if _, err := New(context.Background(), c, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "kaldi") {
		t.Fatalf("unknown engine: %v", err)
	}
}

// TestAutoSupervisesTheInstalledServer is the default of `make run`: the
// local Whisper server started, ready in readyz, and stopped on Close.
func TestAutoSupervisesTheInstalledServer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: loads the Whisper model")
	}
	leakcheck.Test(t, 5*time.Second, "callbrief/asr/speechd")
	c := needSphinx(t)
	cache := models.DefaultCacheDir()
	if _, err := speechd.Locate(cache); errors.Is(err, speechd.ErrNotInstalled) {
		t.Skipf("speech server not installed, skipping (run speechserver/setup.sh): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	set, err := New(ctx, c, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := set.Status()
	if set.Supervisor == nil || !set.Ready() || set.Recognizer.Name() != "openai:whisper-base+fallback:sphinx" {
		t.Fatalf("auto with the server installed: %+v", st)
	}
	if s := st["speechserver"].(speechd.State); s.Phase != speechd.Ready {
		t.Fatalf("readyz state %+v", s)
	}
	if err := set.Close(); err != nil {
		t.Fatal(err)
	}
	if set.Supervisor.State().Phase != speechd.Stopped {
		t.Fatalf("after Close: %+v", set.Supervisor.State())
	}
}
