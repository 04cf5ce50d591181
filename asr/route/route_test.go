package route

import (
	"context"
	"testing"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
)

// named is a recognizer double that records which engine opened a stream.
type named struct {
	name   string
	rate   int
	opened *[]string
	closed bool
}

func (n *named) Name() string    { return n.name }
func (n *named) SampleRate() int { return n.rate }
func (n *named) Close() error    { n.closed = true; return nil }
func (n *named) NewStream(ctx context.Context, cfg asr.StreamConfig) (asr.Stream, error) {
	*n.opened = append(*n.opened, n.name)
	return nil, nil
}

func TestRoutesByLanguage(t *testing.T) {
	var opened []string
	en := &named{name: "sphinx", rate: 16000, opened: &opened}
	zh := &named{name: "whisper", rate: 16000, opened: &opened}
	r, err := New(en, zh)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []call.Language{call.LangEnglish, call.LangMandarin, "", call.LangCantonese, call.LangChinese, call.LangWu} {
		r.NewStream(context.Background(), asr.StreamConfig{Language: l})
	}
	want := []string{"sphinx", "whisper", "sphinx", "whisper", "whisper", "whisper"}
	for i := range want {
		if opened[i] != want[i] {
			t.Fatalf("streams went to %v, want %v", opened, want)
		}
	}
	r.Close()
	if !en.closed || !zh.closed {
		t.Fatal("Close must close both engines")
	}
	if _, err := New(en, &named{name: "x", rate: 8000, opened: &opened}); err == nil {
		t.Fatal("engines at different rates must be refused")
	}
}
