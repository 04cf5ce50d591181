package testenv

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/callbrief/callbrief/media"
)

// PCM16 reads a WAV file as 16 kHz mono samples, failing the test if it
// cannot.
func PCM16(t testing.TB, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := media.ReadWAV(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	pcm, err := a.PCM16(media.Rate16k)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pcm
}

// Chromium is Debian's browser, which the web tests drive headless.
const Chromium = "/usr/bin/chromium"

// ChromiumWithMic starts headless Chromium whose fake microphone plays mic
// (48 kHz mono; Chromium loops it) and grants pages the microphone. The
// browser closes when the test ends; the context returned is bounded by
// timeout.
func ChromiumWithMic(t testing.TB, mic []float32, timeout time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("chromium not installed (%v): apt-get install chromium", err)
	}
	wav := filepath.Join(t.TempDir(), "mic.wav")
	f, err := os.Create(wav)
	if err != nil {
		t.Fatal(err)
	}
	if err := media.WriteWAV(f, &media.Audio{Format: media.Format{SampleRate: media.Rate48k, Channels: 1}, Data: mic}, 16); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium),
		chromedp.NoSandbox,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Real host addresses rather than mDNS names: the server need not
		// resolve .local names on a test machine.
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, timeout)
	t.Cleanup(func() { cancel(); bcancel(); acancel() })
	return ctx
}
