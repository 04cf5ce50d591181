package handoff_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store/memory"
)

// stuckKB ignores its context, as an embedder mid-inference does, and
// answers only when released; it records the filter it was asked with.
type stuckKB struct {
	release chan struct{}
	mu      sync.Mutex
	filter  handoff.KBFilter
}

func (s *stuckKB) Suggest(ctx context.Context, q string, f handoff.KBFilter, k int) ([]handoff.KBSuggestion, error) {
	s.mu.Lock()
	s.filter = f
	s.mu.Unlock()
	<-s.release
	return []handoff.KBSuggestion{{ArticleID: "late"}}, nil
}

// TestBriefDoesNotWaitPastKBBudget: a KB that never answers within the
// budget leaves the brief without suggestions, marked, counted as a
// time-out, and the brief is out while the search is still stuck (the
// KB is released only after the brief returned, so no timing is assumed).
func TestBriefDoesNotWaitPastKBBudget(t *testing.T) {
	r, tx := router(t)
	ro, err := handoff.DemoRoster(r.Groups())
	if err != nil {
		t.Fatal(err)
	}
	kb := &stuckKB{release: make(chan struct{})}
	defer close(kb.release)
	var mu sync.Mutex
	var observed []error
	e, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: memory.New(), Taxonomy: tx,
		KB: kb, KBTimeout: 20 * time.Millisecond,
		ObserveKB: func(d time.Duration, err error) { mu.Lock(); observed = append(observed, err); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := e.Handoff(ctx, bootRequest(t, "call-kb-stuck"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.KB) != 0 || b.KBError == "" {
		t.Fatalf("brief KB %v, kb_error %q: want no suggestions and the reason", b.KB, b.KBError)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(observed) != 1 || !errors.Is(observed[0], handoff.ErrKBTimeout) {
		t.Fatalf("observed %v, want one ErrKBTimeout", observed)
	}
	kb.mu.Lock()
	defer kb.mu.Unlock()
	// "my Phone 14 Pro will not turn on": the caller named a phone.
	if kb.filter.Product != "phone" || kb.filter.Intent != "device_power_boot" || kb.filter.Language != "en" {
		t.Errorf("KB asked with %+v, want product phone, intent device_power_boot, language en", kb.filter)
	}
}

// TestBriefAsksKBInTheCallersVariety: a Cantonese call's KB search is
// asked for yue (the KB folds the words to Mandarin for e5 and reads the
// Chinese articles), a Chinese call of no known variety for zh.
func TestBriefAsksKBInTheCallersVariety(t *testing.T) {
	r, tx := router(t)
	ro, err := handoff.DemoRoster(r.Groups())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		lang call.Language
		want string
	}{{call.LangCantonese, "yue"}, {call.LangMandarin, "cmn"}, {call.LangChinese, "zh"}, {call.LangUndetermined, "zh"}} {
		kb := &stuckKB{release: make(chan struct{})}
		close(kb.release)
		e, err := handoff.NewEngine(handoff.Config{Router: r, Roster: ro, Queue: queue.NewMemory(), Store: memory.New(), Taxonomy: tx, KB: kb, KBTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		req := bootRequest(t, "call-kb-"+string(c.lang))
		req.Language.Language = c.lang
		if _, err := e.Handoff(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		kb.mu.Lock()
		if kb.filter.Language != c.want {
			t.Errorf("%s call: KB asked in %q, want %q", c.lang, kb.filter.Language, c.want)
		}
		kb.mu.Unlock()
	}
}
