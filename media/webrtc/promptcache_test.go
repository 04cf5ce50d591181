package webrtc

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/callbrief/callbrief/media"
)

// speakTo speaks pcm on a speaker whose packets are collected.
func speakTo(t *testing.T, cache *promptCache, codec Codec, pcm []int16) [][]byte {
	t.Helper()
	var got [][]byte
	clock := 48000
	if codec == CodecPCMU {
		clock = 8000
	}
	out := &outbound{clock: clock, lastDur: uint32(clock / 50), write: func(p *rtp.Packet) error {
		got = append(got, bytes.Clone(p.Payload))
		return nil
	}}
	s := newSpeaker(out, codec, cache)
	up := make(chan struct{})
	close(up)
	if err := s.speak(context.Background(), context.Background(), up, pcm, media.Rate16k); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPromptCache: the second caller to hear a prompt gets the packets
// encoded for the first, identical to encoding afresh; another codec or
// another prompt is encoded on its own; the bound evicts.
func TestPromptCache(t *testing.T) {
	prompt := tone16k(300*time.Millisecond, 440)
	other := tone16k(300*time.Millisecond, 660)
	c := newPromptCache(1 << 20)
	first := speakTo(t, c, CodecOpus, prompt)
	if len(first) != 15 || c.entries() != 1 {
		t.Fatalf("%d packets, %d cached prompts", len(first), c.entries())
	}
	fresh := speakTo(t, nil, CodecOpus, prompt) // no cache: encoded again
	again := speakTo(t, c, CodecOpus, prompt)
	for i := range first {
		if !bytes.Equal(first[i], fresh[i]) || !bytes.Equal(first[i], again[i]) {
			t.Fatalf("packet %d differs between the first, a fresh and a cached send", i)
		}
	}
	speakTo(t, c, CodecPCMU, prompt)
	speakTo(t, c, CodecOpus, other)
	if c.entries() != 3 {
		t.Fatalf("%d cached prompts, want 3 (two codecs, two prompts)", c.entries())
	}
	one := 64 // the size put gives the first prompt
	for _, p := range first {
		one += len(p) + 24
	}
	small := newPromptCache(one + one/2) // room for one of the two tones
	speakTo(t, small, CodecOpus, prompt)
	speakTo(t, small, CodecOpus, other)
	if _, ok := small.get(promptKeyOf(CodecOpus, prompt, media.Rate16k)); ok || small.entries() != 1 {
		t.Fatalf("bound not kept: %d prompts", small.entries())
	}
}

// TestPromptInterruptedNotCached: a prompt cut short by barge-in is not
// kept (its packets are incomplete).
func TestPromptInterruptedNotCached(t *testing.T) {
	c := newPromptCache(1 << 20)
	out := &outbound{clock: 48000, lastDur: 960, write: func(*rtp.Packet) error { return nil }}
	s := newSpeaker(out, CodecOpus, c)
	up := make(chan struct{})
	close(up)
	go func() { time.Sleep(100 * time.Millisecond); s.interrupt() }()
	err := s.speak(context.Background(), context.Background(), up, tone16k(2*time.Second, 440), media.Rate16k)
	if !isErr(err, ErrInterrupted) || c.entries() != 0 {
		t.Fatalf("interrupted: %v, %d cached", err, c.entries())
	}
}

// BenchmarkPromptFrame is the cost of one 20 ms prompt packet: encoded
// (a prompt heard for the first time) or taken from the cache.
func BenchmarkPromptFrame(b *testing.B) {
	pcm := speechPCM(b)[:media.Rate16k]
	for _, cached := range []bool{false, true} {
		name := map[bool]string{false: "encoded", true: "cached"}[cached]
		b.Run(name, func(b *testing.B) {
			c := newPromptCache(1 << 20)
			if !cached {
				c = nil
			}
			key := promptKeyOf(CodecOpus, pcm, media.Rate16k)
			enc, _ := newFrameEncoder(CodecOpus)
			defer enc.close()
			var payloads [][]byte
			buf := make([]byte, 4000)
			for off := 0; off+320 <= len(pcm); off += 320 {
				p, _ := enc.encode(pcm[off:off+320], buf)
				payloads = append(payloads, bytes.Clone(p))
			}
			c.put(key, payloads)
			i := 0
			for b.Loop() {
				if ps, ok := c.get(promptKeyOf(CodecOpus, pcm, media.Rate16k)); ok {
					_ = ps[i%len(ps)]
				} else {
					off := (i * 320) % (len(pcm) - 320)
					_, _ = enc.encode(pcm[off:off+320], buf)
				}
				i++
			}
		})
	}
}
