package app

import (
	"context"
	"testing"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/config"
)

// TestServedUnderstandingFilesOffTopicSpeechOutOfScope: the understanding
// `serve` builds files speech about something else entirely out of scope
// (the classifier alone named an in-scope intent for some of these, one
// of them an emergency), keeps hotline requests in scope, and never lets
// the relevance judgement hold up an emergency phrase. With
// intent.off_topic=keep the score is only reported.
func TestServedUnderstandingFilesOffTopicSpeechOutOfScope(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Intent.Dense = "none" // the sparse model: the same gate, no embedder needed
	u, err := Understanding(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	offTopic := []string{
		"周末我们一起去爬山然后找个地方吃火锅",
		"大家好欢迎收看今天的节目我们先来看一段新闻",
		"我奶奶年轻的时候在纺织厂上班后来去了学校教书",
		"今日天气好好我哋去行山啦",
		"the quarterly results were discussed at length by the board this morning",
	}
	for _, s := range offTopic {
		r, err := u.Intents.Classify(ctx, s, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Intent != call.IntentOutOfScope || r.Relevance == nil {
			t.Errorf("%q: intent %s (relevance %v, off topic %v), want out of scope", s, r.Intent, r.Relevance, r.OffTopic)
		}
	}
	for _, c := range []struct{ text, want string }{
		{"我的手机充不进电了", ""},
		{"my earbuds will not connect to my phone", ""},
		{"我部电话开唔到机", ""},
		{"邻居说我家的插座着火了", "safety_emergency"},
	} {
		r, err := u.Intents.Classify(ctx, c.text, "")
		if err != nil {
			t.Fatal(err)
		}
		if r.OffTopic || r.Relevance == nil {
			t.Errorf("%q: judged off topic (relevance %v)", c.text, r.Relevance)
		}
		if c.want != "" && string(r.Intent) != c.want {
			t.Errorf("%q: intent %s, want %s", c.text, r.Intent, c.want)
		}
	}

	cfg.Intent.OffTopic = "keep"
	keep, err := Understanding(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, s := range offTopic {
		r, err := keep.Intents.Classify(ctx, s, "")
		if err != nil {
			t.Fatal(err)
		}
		if !r.OffTopic {
			t.Errorf("%q: not reported off topic with intent.off_topic=keep", s)
		}
		if r.Intent != call.IntentOutOfScope {
			kept++
		}
	}
	if kept == 0 {
		t.Error("with intent.off_topic=keep every off-topic sentence was still out of scope: the gate did nothing measurable here")
	}
}
