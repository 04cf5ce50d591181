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
// turn and when they speak again, so the turn can be recognised while the
// endpointer is still waiting to be sure it has ended.
type PauseDecoder interface {
	// Pause: the caller has been silent for a moment; utt is the turn so
	// far (the callee copies what it keeps).
	Pause(ctx context.Context, utt []int16)
	// Resume: the caller speaks again after the last Pause.
	Resume()
}

// PausedTranscriber recognises a live turn speculatively at its pauses. A
// whole-turn recognizer (Whisper behind the OpenAI API) only starts once the
// endpointer has waited out its hangover (600 ms of silence) and then takes
// the whole turn's decode time. Here the turn so far is sent off as soon as
// the caller has been silent for a shorter while: if the silence turns out
// to be the end, the turn's recognition is already under way, or done, when
// the endpoint fires. If the caller speaks again the guess is cancelled and
// the turn is recognised whole at its end, as without this: a turn is
// never cut into pieces, because a pause inside a sentence (a stop
// consonant, a hesitation) is not a boundary a recognizer can decode
// across (cutting "he was not an ill-disposed man" at its 300 ms gap gave
// "he was not a" + "an ill-disposed").
//
// One PausedTranscriber serves one call. Transcribe uses the guess only
// when it is exactly the start of the samples it is given and what follows
// it is no longer than the endpoint's silence; anything else, digit and
// yes/no turns included, is recognised whole by the wrapped transcriber.
type PausedTranscriber struct {
	Base Transcriber
	// MinSpeech is the least audio worth a guess (default 0.5 s).
	MinSpeech time.Duration
	// Tail is the silence a turn still ends with after its last pause was
	// noticed (the endpoint's hangover less the pause): audio after the
	// guess longer than that by a margin held speech, and the guess is not
	// used even if no Resume said so. 0: only Resume counts.
	Tail time.Duration
	Log  *slog.Logger
	// OnGuess, when set, is given each guess recognised before it was
	// dropped, in the guess's goroutine. The served stack starts the
	// turn's sentence embedding there: when the pause was the end, the
	// intent step finds it computed instead of waiting for e5 after the
	// endpoint. It must not block for long.
	OnGuess func(call.Transcript)

	mu    sync.Mutex
	guess *guess
	wg    sync.WaitGroup
}

// guess is one speculative recognition of the turn so far.
type guess struct {
	pcm    []int16
	cancel context.CancelFunc
	done   chan struct{}
	tr     call.Transcript
	err    error
}

var (
	_ Transcriber  = (*PausedTranscriber)(nil)
	_ PauseDecoder = (*PausedTranscriber)(nil)
)

// Pause implements PauseDecoder: it sends the turn so far to the
// recognizer, in the background, under ctx (the call's), replacing any
// earlier guess.
func (p *PausedTranscriber) Pause(ctx context.Context, utt []int16) {
	minSpeech := p.MinSpeech
	if minSpeech <= 0 {
		minSpeech = 500 * time.Millisecond
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked()
	if len(utt) < int(minSpeech.Seconds()*16000) {
		p.logger().Debug("pause: too little speech for a guess", "samples", len(utt))
		return
	}
	gctx, cancel := context.WithCancel(ctx)
	g := &guess{pcm: slices.Clone(utt), cancel: cancel, done: make(chan struct{})}
	p.guess = g
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(g.done)
		g.tr, g.err = p.Base.Transcribe(gctx, g.pcm, asr.ModeFree)
		if g.err == nil && gctx.Err() == nil && p.OnGuess != nil {
			p.OnGuess(g.tr)
		}
	}()
}

// Resume implements PauseDecoder: the guess is cancelled.
func (p *PausedTranscriber) Resume() {
	p.mu.Lock()
	p.dropLocked()
	p.mu.Unlock()
}

func (p *PausedTranscriber) dropLocked() {
	if p.guess != nil {
		p.guess.cancel()
		p.guess = nil
	}
}

// Transcribe implements Transcriber: the guess, waited for, when it is
// the turn; else the turn recognised whole.
func (p *PausedTranscriber) Transcribe(ctx context.Context, samples []int16, mode asr.Mode) (call.Transcript, error) {
	p.mu.Lock()
	g := p.guess
	p.guess = nil
	p.mu.Unlock()
	if g == nil {
		return p.Base.Transcribe(ctx, samples, mode)
	}
	defer g.cancel()
	rest := len(samples) - len(g.pcm)
	spoke := p.Tail > 0 && rest > int((p.Tail+250*time.Millisecond).Seconds()*16000)
	if mode != asr.ModeFree || rest < 0 || spoke || !slices.Equal(g.pcm, samples[:len(g.pcm)]) {
		return p.Base.Transcribe(ctx, samples, mode)
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		return call.Transcript{}, ctx.Err()
	}
	if g.err != nil {
		if errors.Is(g.err, context.Canceled) && ctx.Err() != nil {
			return call.Transcript{}, ctx.Err()
		}
		p.logger().Warn("the guess at the pause failed; recognising the turn whole", "err", g.err)
		return p.Base.Transcribe(ctx, samples, mode)
	}
	p.logger().Debug("turn recognised at its pause", "samples", len(g.pcm), "after", rest)
	return g.tr, nil
}

// Wait blocks until every guess sent off has come back (or its context
// ended): the call's end, so no recognition outlives it.
func (p *PausedTranscriber) Wait() { p.wg.Wait() }

func (p *PausedTranscriber) logger() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}
