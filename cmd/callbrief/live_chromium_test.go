package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/callbrief/callbrief/media"
)

// TestLiveCallChromium places a call from the caller page in real headless
// Chromium whose fake microphone plays "he was not an ill disposed young
// man" (then a pause, looped by Chromium). The real service transcribes
// it and the brief reaches the desk.
func TestLiveCallChromium(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium not installed (%v): apt-get install chromium", err)
	}
	checkLiveLeaks(t)
	pcm := librivoxPCM(t)
	// Two seconds of silence (the call sets up while Chromium already
	// captures), the recording, two more seconds of silence; at 48 kHz,
	// what Chromium captures at.
	lead := 2 * media.Rate16k
	in := make([]float32, lead+len(pcm)+2*media.Rate16k)
	for i, v := range pcm {
		in[lead+i] = float32(v) / 32768
	}
	rs, err := media.NewResampler(media.Rate16k, media.Rate48k)
	if err != nil {
		t.Fatal(err)
	}
	data := append(rs.Process(in), rs.Flush()...)
	wav := filepath.Join(t.TempDir(), "mic.wav")
	f, err := os.Create(wav)
	if err != nil {
		t.Fatal(err)
	}
	if err := media.WriteWAV(f, &media.Audio{Format: media.Format{SampleRate: media.Rate48k, Channels: 1}, Data: data}, 16); err != nil {
		t.Fatal(err)
	}
	f.Close()

	ls := startLive(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Real host addresses rather than mDNS names.
		chromedp.Flag("disable-features", "WebRtcHideLocalIpsWithMdns"),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	ctx, cancel := context.WithTimeout(bctx, liveGuard)
	defer cancel()

	// The page keeps the call's Location to itself; note it as it passes.
	const noteLocation = `(() => { const f = window.fetch; window.callLocation = "";
		window.fetch = async (...a) => { const r = await f(...a); const l = r.headers.get("Location"); if (l) window.callLocation = l; return r; };
		return true; })()`
	if err := chromedp.Do(ctx, chromedp.Navigate(ls.base+"/call/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](noteLocation)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("call")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="status" and text()="connected"]`)),
	); err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status")))
		t.Fatalf("placing the call: %v (page status %q)", err, status)
	}

	loc, err := chromedp.Run(ctx, chromedp.Evaluate[string]("window.callLocation"))
	if err != nil || !strings.HasPrefix(loc, "/v1/whip/") {
		t.Fatalf("call Location %q: %v", loc, err)
	}
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	// The caller sees the caption of what they said.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(`//ol[@id="captions"]/li[contains(., "young man")]`))); err != nil {
		shown, _ := chromedp.Run(context.WithoutCancel(bctx), chromedp.Text(chromedp.ID("captions")))
		t.Fatalf("no caption with the words on the page: %v (captions %q)\n%s", err, shown, ls.stderr.String())
	}
	tok := ls.login(t, ctx, "li.na", "demo-token-li-na-0001")
	b := ls.awaitBrief(t, ctx, tok, id)
	if !strings.Contains(b.text(), "young man") || b.Route.Group == "" {
		t.Fatalf("brief %+v", b)
	}
	t.Logf("brief from Chromium: %q, reason %q, verification %s, group %s", b.text(), b.Reason, b.Verification.Status, b.Route.Group)
	ls.awaitMetric(t, ctx, `callbrief_live_calls_total{outcome="handed_over"} 1`)
	// The page learns the server hung up the media leg (the agent bridge
	// takes over from here when built).
	cancel()
	bcancel()
	acancel()
}
