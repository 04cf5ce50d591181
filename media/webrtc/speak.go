package webrtc

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/callbrief/callbrief/media"
)

// speaker sends prompts on the call's outbound track, paced in real time
// one 20 ms packet per tick, so that interrupting it stops the audio
// within a frame (plus what the caller's jitter buffer already holds).
type speaker struct {
	out   *outbound
	codec Codec

	sem chan struct{} // one prompt at a time; taken for good by close

	mu      sync.Mutex
	stop    context.CancelCauseFunc // the prompt in progress
	cache   *promptCache
	rs      *media.Resampler // to the encoder's rate, when the prompt's differs
	rsFrom  int
	frames  uint64
	interrs uint64
}

func newSpeaker(out *outbound, codec Codec, cache *promptCache) *speaker {
	return &speaker{out: out, codec: codec, cache: cache, sem: make(chan struct{}, 1)}
}

// encRate is the rate prompts are encoded from.
func (s *speaker) encRate() int {
	if s.codec == CodecPCMU {
		return media.Rate8k
	}
	return media.Rate16k
}

func (s *speaker) speak(ctx, callCtx context.Context, connected <-chan struct{}, pcm []int16, rate int) error {
	// Audio written before ICE and DTLS complete is silently lost, so a
	// greeting spoken as soon as the call arrives waits for the media path.
	select {
	case <-connected:
	case <-ctx.Done():
		return ctx.Err()
	case <-callCtx.Done():
		return context.Cause(callCtx)
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-callCtx.Done():
		return context.Cause(callCtx)
	}
	defer func() { <-s.sem }()
	if err := callCtx.Err(); err != nil {
		return context.Cause(callCtx)
	}

	pctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	// The call ending stops the prompt too.
	unhook := context.AfterFunc(callCtx, func() { stop(context.Cause(callCtx)) })
	defer unhook()
	s.mu.Lock()
	s.stop = stop
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stop = nil
		s.mu.Unlock()
	}()

	// A prompt heard before (the greeting, the questions) is sent as it
	// was encoded then; a new one is encoded as it is sent and kept if it
	// is sent to the end.
	key := promptKeyOf(s.codec, pcm, rate)
	payloads, cached := s.cache.get(key)
	var enc *frameEncoder
	var frames []int16
	if !cached {
		var err error
		if frames, err = s.convert(pcm, rate); err != nil {
			return err
		}
		if enc, err = newFrameEncoder(s.codec); err != nil {
			return fmt.Errorf("webrtc: prompt: %w", err)
		}
		defer enc.close()
	}
	size := media.SamplesPerFrame(s.encRate())
	frame := make([]int16, size)
	out := make([]byte, 4000)
	ticks := uint32(s.out.clock / 50) // one 20 ms packet
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	for i := 0; ; i++ {
		var payload []byte
		switch {
		case cached && i < len(payloads):
			payload = payloads[i]
		case !cached && i*size < len(frames):
			// The last frame is padded with silence to a whole packet.
			n := copy(frame, frames[i*size:])
			clear(frame[n:])
			p, err := enc.encode(frame, out)
			if err != nil {
				return fmt.Errorf("webrtc: prompt: %w", err)
			}
			payload = p
			payloads = append(payloads, bytes.Clone(p))
		default:
			if !cached {
				s.cache.put(key, payloads)
			}
			return nil
		}
		if err := s.out.local(payload, ticks); err != nil {
			return fmt.Errorf("webrtc: prompt: %w", err)
		}
		s.mu.Lock()
		s.frames++
		s.mu.Unlock()
		select {
		case <-pctx.Done():
			return context.Cause(pctx)
		case <-tick.C:
		}
	}
}

// convert resamples pcm to the encoder's rate.
func (s *speaker) convert(pcm []int16, rate int) ([]int16, error) {
	want := s.encRate()
	if rate == want {
		return pcm, nil
	}
	if s.rs == nil || s.rsFrom != rate {
		rs, err := media.NewResampler(rate, want)
		if err != nil {
			return nil, fmt.Errorf("webrtc: prompt at %d Hz: %w", rate, err)
		}
		s.rs, s.rsFrom = rs, rate
	}
	out := s.rs.ProcessInt16(nil, pcm)
	return s.rs.FlushInt16(out), nil
}

func (s *speaker) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.interrs++
		s.stop(ErrInterrupted)
	}
}

func (s *speaker) counts() (frames, interrupted uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames, s.interrs
}

// close waits for the prompt in progress (the call's end has stopped it)
// and takes the slot for good so that later Speak calls see the call
// ended.
func (s *speaker) close() {
	s.sem <- struct{}{}
}
