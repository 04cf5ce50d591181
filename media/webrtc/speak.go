package webrtc

import (
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
	enc     *frameEncoder
	rs      *media.Resampler // to the encoder's rate, when the prompt's differs
	rsFrom  int
	frames  uint64
	interrs uint64
}

func newSpeaker(out *outbound, codec Codec) *speaker {
	return &speaker{out: out, codec: codec, sem: make(chan struct{}, 1)}
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

	pcm, err := s.convert(pcm, rate)
	if err != nil {
		return err
	}
	size := media.SamplesPerFrame(s.encRate())
	frame := make([]int16, size)
	out := make([]byte, 4000)
	ticks := uint32(s.out.clock / 50) // one 20 ms packet
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	for off := 0; off < len(pcm); off += size {
		// The last frame is padded with silence to a whole packet.
		n := copy(frame, pcm[off:])
		clear(frame[n:])
		payload, err := s.encode(frame, out)
		if err != nil {
			return err
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
	return nil
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

func (s *speaker) encode(frame []int16, out []byte) ([]byte, error) {
	s.mu.Lock()
	if s.enc == nil {
		enc, err := newFrameEncoder(s.codec)
		if err != nil {
			s.mu.Unlock()
			return nil, fmt.Errorf("webrtc: prompt: %w", err)
		}
		s.enc = enc
	}
	enc := s.enc
	s.mu.Unlock()
	return enc.encode(frame, out)
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

// close waits for the prompt in progress (the call's end has stopped it),
// takes the slot for good so that later Speak calls see the call ended,
// and frees the encoder.
func (s *speaker) close() {
	s.sem <- struct{}{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enc != nil {
		s.enc.close()
		s.enc = nil
	}
}
