package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
)

// PauseDecoder is told by a live ingress when the caller pauses inside a
// turn and when they speak again, so the turn can be recognised piece by
// piece while it is still being spoken.
type PauseDecoder interface {
	// Pause: the caller has been silent for a moment; utt is the turn so
	// far (the callee copies what it keeps).
	Pause(ctx context.Context, utt []int16)
	// Resume: the caller speaks again after the last Pause.
	Resume()
}

// PausedTranscriber recognises a live turn at its pauses. A whole-turn
// recognizer (Whisper behind the OpenAI API) only starts once the
// endpointer has waited out its hangover, and then takes the whole turn's
// decode time: on two busy cores several seconds after the caller stopped.
// Here each stretch of speech is sent off as soon as the caller pauses
// (a short silence, well before the hangover), so when the turn ends its
// speech is already recognised, or only the part after the last pause is
// left. The pieces are cut at pauses, where a sentence or a clause ends,
// so the recognizer loses little context.
//
// One PausedTranscriber serves one call. Transcribe uses the pieces only
// when they are exactly the start of the samples it is given (the same
// turn); anything else is recognised whole by the wrapped transcriber, as
// are digit and yes/no turns.
type PausedTranscriber struct {
	Base Transcriber
	// MinPiece is the least audio worth sending off on its own (default
	// 0.6 s): shorter stretches wait for the next pause.
	MinPiece time.Duration
	Log      *slog.Logger

	mu      sync.Mutex
	pieces  []*piece
	resumed bool // speech after the last piece
	wg      sync.WaitGroup
}

// piece is one stretch of a turn, from sample start to end.
type piece struct {
	start, end int
	pcm        []int16
	done       chan struct{}
	tr         call.Transcript
	err        error
}

var (
	_ Transcriber  = (*PausedTranscriber)(nil)
	_ PauseDecoder = (*PausedTranscriber)(nil)
)

// Pause implements PauseDecoder: it sends the turn's audio since the last
// piece to the recognizer, in the background, under ctx (the call's).
func (p *PausedTranscriber) Pause(ctx context.Context, utt []int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.prefixLocked(utt) {
		p.pieces = nil // a new turn
	}
	from := 0
	if n := len(p.pieces); n > 0 {
		from = p.pieces[n-1].end
	}
	minPiece := p.MinPiece
	if minPiece <= 0 {
		minPiece = 600 * time.Millisecond
	}
	if len(utt)-from < int(minPiece.Seconds()*16000) {
		p.logger().Debug("pause: too little new speech to send on its own", "samples", len(utt)-from)
		return
	}
	pc := &piece{start: from, end: len(utt), pcm: slices.Clone(utt[from:]), done: make(chan struct{})}
	p.pieces = append(p.pieces, pc)
	p.resumed = false
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(pc.done)
		pc.tr, pc.err = p.Base.Transcribe(ctx, pc.pcm, asr.ModeFree)
	}()
}

// Resume implements PauseDecoder.
func (p *PausedTranscriber) Resume() {
	p.mu.Lock()
	p.resumed = true
	p.mu.Unlock()
}

// prefixLocked says whether every piece is the start of utt.
func (p *PausedTranscriber) prefixLocked(utt []int16) bool {
	for _, pc := range p.pieces {
		if pc.end > len(utt) || !slices.Equal(pc.pcm, utt[pc.start:pc.end]) {
			return false
		}
	}
	return true
}

// Transcribe implements Transcriber: the turn's pieces, waited for, and
// the audio after the last one when the caller spoke again after it (what
// follows the last pause is otherwise the endpointer's silence, which a
// recognizer may fill with invented words).
func (p *PausedTranscriber) Transcribe(ctx context.Context, samples []int16, mode asr.Mode) (call.Transcript, error) {
	p.mu.Lock()
	pieces, resumed := p.pieces, p.resumed
	ok := mode == asr.ModeFree && len(pieces) > 0 && p.prefixLocked(samples)
	p.pieces, p.resumed = nil, false
	p.mu.Unlock()
	if !ok {
		return p.Base.Transcribe(ctx, samples, mode)
	}
	var out call.Transcript
	for _, pc := range pieces {
		select {
		case <-pc.done:
		case <-ctx.Done():
			return call.Transcript{}, ctx.Err()
		}
		if pc.err != nil {
			if errors.Is(pc.err, context.Canceled) && ctx.Err() != nil {
				return call.Transcript{}, ctx.Err()
			}
			// One piece failed (a server restarting): the whole turn,
			// once more, as if there had been no pieces.
			p.logger().Warn("a piece of the turn was not recognised; recognising the whole turn", "err", pc.err)
			return p.Base.Transcribe(ctx, samples, mode)
		}
		out.CallID = pc.tr.CallID
		out.Segments = append(out.Segments, shift(pc.tr.Segments, pc.start)...)
	}
	last := pieces[len(pieces)-1].end
	if resumed && len(samples) > last {
		rest, err := p.Base.Transcribe(ctx, samples[last:], mode)
		if err != nil {
			return call.Transcript{}, err
		}
		out.Segments = append(out.Segments, shift(rest.Segments, last)...)
	}
	p.logger().Debug("turn recognised at its pauses", "pieces", len(pieces), "rest", resumed && len(samples) > last)
	return out, nil
}

// Wait blocks until every piece sent off has come back (or its context
// ended): the call's end, so no recognition outlives it.
func (p *PausedTranscriber) Wait() { p.wg.Wait() }

func (p *PausedTranscriber) logger() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// shift moves segments recognised from a piece starting at sample from
// onto the turn's clock (16 kHz).
func shift(segs []call.Segment, from int) []call.Segment {
	off := time.Duration(from) * time.Second / 16000
	out := make([]call.Segment, len(segs))
	for i, s := range segs {
		s.Start += off
		s.End += off
		if len(s.Words) > 0 {
			w := slices.Clone(s.Words)
			for j := range w {
				w[j].Start += off
				w[j].End += off
			}
			s.Words = w
		}
		out[i] = s
	}
	return out
}
