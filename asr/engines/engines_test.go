package engines

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callbrief/callbrief/asr"
	asropenai "github.com/callbrief/callbrief/asr/openai"
	"github.com/callbrief/callbrief/asr/speechd"
	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/internal/leakcheck"
	"github.com/callbrief/callbrief/internal/testenv"
	"github.com/callbrief/callbrief/media"
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

// TestAutoPoolOfTwoServers: asr.speechserver.count=2 runs two local
// Whisper servers; with the first killed (SIGKILL, as a crash) every
// utterance is still heard: the one that meets the dead server fails over
// to the second at once, while the first restarts.
func TestAutoPoolOfTwoServers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: loads the Whisper model twice")
	}
	leakcheck.Test(t, 5*time.Second, "callbrief/asr/speechd")
	c := needSphinx(t)
	c.ASR.SpeechServer.Count = 2
	c.ASR.SpeechServer.Threads = 1
	cache := models.DefaultCacheDir()
	if _, err := speechd.Locate(cache); errors.Is(err, speechd.ErrNotInstalled) {
		t.Skipf("speech server not installed, skipping (run speechserver/setup.sh): %v", err)
	}
	pcm := testenv.PCM16(t, filepath.Join(testenv.NeedLibrivox(t), "sense_and_sensibility_01_austen_64kb-0880.wav"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	set, err := New(ctx, c, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	st := set.Status()
	states, _ := st["speechservers"].([]speechd.State)
	if len(states) != 2 || states[0].Phase != speechd.Ready || states[1].Phase != speechd.Ready || states[0].BaseURL == states[1].BaseURL {
		t.Fatalf("two servers: %+v", st)
	}
	if err := syscall.Kill(states[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		text, err := hear(ctx, set.Recognizer, pcm)
		if err != nil || !strings.Contains(strings.ToLower(text), "young man") {
			t.Fatalf("utterance %d with the first server killed: %q %v", i, text, err)
		}
	}
	pool, _ := set.Status()["pool"].([]asropenai.ServerStats)
	// The first utterance met the dead server and went on to the second;
	// later ones may find the first restarted already.
	if len(pool) != 2 || pool[0].Failed < 1 || pool[1].Served < 1 {
		t.Fatalf("pool after the kill: %+v", pool)
	}
	t.Logf("pool: %+v", pool)
}

// hear sends pcm as one utterance and returns its final text.
func hear(ctx context.Context, rec asr.Recognizer, pcm []int16) (string, error) {
	st, err := rec.NewStream(ctx, asr.StreamConfig{})
	if err != nil {
		return "", err
	}
	defer st.Close()
	per := media.SamplesPerFrame(media.Rate16k)
	for i := 0; i+per <= len(pcm); i += per {
		f := media.Frame{Samples: pcm[i : i+per], Rate: media.Rate16k, Offset: time.Duration(i/per) * media.FrameDuration}
		if err := st.Write(ctx, f); err != nil {
			return "", err
		}
	}
	done := make(chan error, 1)
	go func() { done <- st.Flush(ctx) }()
	select {
	case r := <-st.Results():
		<-done
		return r.Text, nil
	case err := <-done:
		if err != nil {
			return "", err
		}
		select {
		case r := <-st.Results():
			return r.Text, nil
		default:
			return "", nil
		}
	}
}
