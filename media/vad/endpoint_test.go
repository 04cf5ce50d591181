package vad

import (
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

// run feeds a score pattern, one char per 20 ms chunk ('#' speech 0.9,
// '~' ambiguous 0.4, '.' silence 0.05), and returns the events.
func run(t *testing.T, cfg EndpointConfig, pattern string) []Event {
	t.Helper()
	ep, err := NewEndpointer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	d := 20 * ms
	for i, c := range pattern {
		p := float32(0.05)
		switch c {
		case '#':
			p = 0.9
		case '~':
			p = 0.4
		}
		evs = append(evs, ep.Push(p, time.Duration(i)*d, d)...)
	}
	return append(evs, ep.Finish(time.Duration(len(pattern))*d)...)
}

func TestEndpointer(t *testing.T) {
	cfg := EndpointConfig{Threshold: 0.5, NegThreshold: 0.35, MinSpeech: 100 * ms, Hangover: 200 * ms, MaxUtterance: 2 * time.Second}
	type ev struct {
		kind   EventKind
		at     time.Duration
		forced bool
	}
	for _, tc := range []struct {
		name    string
		pattern string
		want    []ev
	}{
		{"silence only", strings.Repeat(".", 100), nil},
		{"click shorter than min speech", "....##......................", nil},
		{"one utterance", "....##########..............", []ev{{SpeechStart, 80 * ms, false}, {SpeechEnd, 280 * ms, false}}},
		{"pause shorter than hangover stays one utterance", "..#######.....#######.............", []ev{{SpeechStart, 40 * ms, false}, {SpeechEnd, 420 * ms, false}}},
		{"pause longer than hangover splits", "..#######............#######............", []ev{
			{SpeechStart, 40 * ms, false}, {SpeechEnd, 180 * ms, false}, {SpeechStart, 420 * ms, false}, {SpeechEnd, 560 * ms, false}}},
		{"ambiguous chunks continue speech", "..######~~~~~~######..........", []ev{{SpeechStart, 40 * ms, false}, {SpeechEnd, 400 * ms, false}}},
		{"stream ends mid utterance", "....########", []ev{{SpeechStart, 80 * ms, false}, {SpeechEnd, 240 * ms, false}}},
		{"max utterance forces a cut", strings.Repeat("#", 150), []ev{
			{SpeechStart, 0, false}, {SpeechEnd, 2 * time.Second, true}, {SpeechStart, 2 * time.Second, false}, {SpeechEnd, 3 * time.Second, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := run(t, cfg, tc.pattern)
			if len(evs) != len(tc.want) {
				t.Fatalf("got %d events %+v, want %+v", len(evs), evs, tc.want)
			}
			for i, w := range tc.want {
				if evs[i].Kind != w.kind || evs[i].At != w.at || evs[i].Forced != w.forced {
					t.Errorf("event %d = %+v, want %+v", i, evs[i], w)
				}
				if evs[i].Decided < evs[i].At {
					t.Errorf("event %d decided at %v before it happened at %v", i, evs[i].Decided, evs[i].At)
				}
			}
		})
	}
}

func TestEndpointConfigValidate(t *testing.T) {
	good := DefaultEndpointConfig()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*EndpointConfig){
		"threshold":     func(c *EndpointConfig) { c.Threshold = 1.5 },
		"neg_threshold": func(c *EndpointConfig) { c.NegThreshold = 0.9 },
		"hangover":      func(c *EndpointConfig) { c.Hangover = 0 },
		"max_utterance": func(c *EndpointConfig) { c.MaxUtterance = c.MinSpeech },
		"min_speech":    func(c *EndpointConfig) { c.MinSpeech = -1 },
	} {
		c := good
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: want an error naming the field, got %v", name, err)
		}
	}
}
