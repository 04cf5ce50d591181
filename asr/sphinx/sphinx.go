// Package sphinx is the offline speech recognition engine: CMU PocketSphinx
// (0.8+5prealpha, the Debian pocketsphinx packages) through cgo, with the
// US English model of pocketsphinx-en-us.
//
// A Recognizer keeps a pool of idle decoders per mode. PocketSphinx
// decoders are not thread-safe and are expensive: an open-vocabulary
// decoder (acoustic model, 130k-word dictionary, language model) takes
// 0.2-0.75 s to create, depending on machine load, and about 90 MiB; a
// digit or yes/no decoder, built with a dictionary of only its grammar's
// words, 7-30 ms and about 6 MiB.
// Each stream owns one decoder from NewStream to Close, which returns it
// to the pool, so NewStream is cheap once the pool is warm; Warm fills it
// ahead of the first call.
//
// Modes:
//   - ModeFree: the n-gram language model. Words carry lattice posterior
//     confidences; the segment's confidence is their mean.
//   - ModeDigits: a JSGF grammar of one or more of zero, oh, one ... nine;
//     the text is the digits ("4821").
//   - ModeYesNo: a JSGF grammar of yes/yeah/yep/correct/right (and "yes
//     please", "that's right"...) versus no/nope ("no thanks"...), plus a
//     phone-loop garbage rule that absorbs anything else, which then gives
//     no final. The text is "yes" or "no".
//
// Grammar searches give no confidence, so their words and segments carry
// Confidence 0, which call.Word documents as "none".
//
// Streams own no goroutines: decoding runs inside Write and Flush, and a
// stream whose context ends is closed by context.AfterFunc. Partial
// hypotheses are checked every PartialInterval of audio, not every frame.
// Word timings count samples from the Offset of the utterance's first
// frame; PocketSphinx's own silence removal is off so they stay exact.
//
// PocketSphinx's log goes to the logger of the most recent New: warnings
// at debug level, errors at warn level.
package sphinx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

// Name is the engine name in results, logs and metrics.
const Name = "sphinx"

// SampleRate is the rate frames written to streams must have.
const SampleRate = media.Rate16k

// DefaultModelDir is where the Debian package pocketsphinx-en-us installs
// the US English model.
const DefaultModelDir = "/usr/share/pocketsphinx/model/en-us"

// Config locates the model and tunes the pool.
type Config struct {
	// ModelDir holds the model in the pocketsphinx-en-us layout:
	// en-us/ (acoustic model), en-us.lm.bin and cmudict-en-us.dict.
	ModelDir string
	// HMM, LM and Dict override single paths inside ModelDir.
	HMM, LM, Dict string
	// MaxIdle is how many idle decoders each mode keeps for reuse;
	// decoders returned beyond it are freed. Zero means 8. An idle
	// open-vocabulary decoder holds about 90 MiB.
	MaxIdle int
	// PartialInterval is how much audio a stream decodes between checks
	// for a changed partial hypothesis. Zero means 160 ms; negative
	// disables partial results.
	PartialInterval time.Duration
	// MaxUtterance bounds an utterance the caller never flushes: when
	// reached, Write ends it and emits its final. Zero means 30 s.
	MaxUtterance time.Duration
}

// DefaultConfig uses the Debian model location.
func DefaultConfig() Config {
	return Config{ModelDir: DefaultModelDir, MaxIdle: 8, PartialInterval: 160 * time.Millisecond, MaxUtterance: 30 * time.Second}
}

// Recognizer implements asr.Recognizer with PocketSphinx. It is safe for
// concurrent use.
type Recognizer struct {
	log           *slog.Logger
	maxIdle       int
	partialEvery  int   // samples between partial checks; 0 disables
	maxUttSamples int64 // samples after which Write ends an utterance
	specs         [numModes]decoderSpec
	createMu      sync.Mutex // serialises ps_init (its setup touches process-wide state)
	created       atomic.Int64
	lastCreateDur atomic.Int64 // nanoseconds, for logs and tests

	mu     sync.Mutex
	closed bool
	idle   [numModes][]*decoder
	// initCMN is the channel estimate every stream starts from (see
	// primeChannel); nil: the model's own initial value.
	initCMN []float32
}

var _ asr.Recognizer = (*Recognizer)(nil)

const numModes = int(asr.ModeYesNo) + 1

// errRecognizerClosed is returned by NewStream after Close.
var errRecognizerClosed = fmt.Errorf("sphinx: recognizer closed: %w", asr.ErrClosed)

// New checks that the model files exist and prepares the recognizer.
// Decoders are created lazily (or by Warm). A missing file gives an error
// wrapping asr.ErrModelMissing. logger may be nil.
func New(cfg Config, logger *slog.Logger) (*Recognizer, error) {
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("engine", Name)
	if cfg.ModelDir == "" {
		cfg.ModelDir = DefaultModelDir
	}
	pick := func(override, name string) string {
		if override != "" {
			return override
		}
		return filepath.Join(cfg.ModelDir, name)
	}
	hmm, lm, dict := pick(cfg.HMM, "en-us"), pick(cfg.LM, "en-us.lm.bin"), pick(cfg.Dict, "cmudict-en-us.dict")
	for _, p := range []string{filepath.Join(hmm, "mdef"), filepath.Join(hmm, "means"), lm, dict} {
		if err := checkFile(p); err != nil {
			return nil, err
		}
	}

	r := &Recognizer{log: logger, maxIdle: cfg.MaxIdle, initCMN: initialChannel[:]}
	if r.maxIdle <= 0 {
		r.maxIdle = 8
	}
	if cfg.MaxUtterance <= 0 {
		cfg.MaxUtterance = 30 * time.Second
	}
	r.maxUttSamples = int64(cfg.MaxUtterance * SampleRate / time.Second)
	switch {
	case cfg.PartialInterval == 0:
		r.partialEvery = SampleRate * 160 / 1000
	case cfg.PartialInterval > 0:
		r.partialEvery = max(1, int(cfg.PartialInterval*SampleRate/time.Second))
	}
	// The upstream VAD cuts utterances, and word timings must count every
	// sample, so PocketSphinx's own silence removal is off. (Cepstral mean
	// normalisation comes from the model's feat.params; pocketsphinx runs
	// "batch" as live CMN when fed audio incrementally.)
	common := []string{"-remove_silence", "no"}
	r.specs[asr.ModeFree] = decoderSpec{hmm: hmm, dict: dict, args: append([]string{"-lm", lm}, common...)}
	for _, m := range []asr.Mode{asr.ModeDigits, asr.ModeYesNo} {
		g := grammarFor(m)
		words, err := lookupWords(dict, g.vocab)
		if err != nil {
			return nil, err
		}
		r.specs[m] = decoderSpec{
			hmm:   hmm,
			args:  append(g.args, common...),
			words: append(words, g.extra...),
			jsgf:  g.jsgf,
		}
	}
	installLogging(logger)
	return r, nil
}

func checkFile(p string) error {
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sphinx: model file %s not found; install the Debian package pocketsphinx-en-us (`make setup`) or set Config.ModelDir: %w", p, asr.ErrModelMissing)
		}
		return fmt.Errorf("sphinx: model file %s: %w", p, err)
	}
	return nil
}

// Name returns "sphinx".
func (r *Recognizer) Name() string { return Name }

// SampleRate returns 16000.
func (r *Recognizer) SampleRate() int { return SampleRate }

// Warm creates one idle decoder for each of modes (all modes when none are
// given) that has none yet, so the first streams do not wait for model
// loading. It also proves the model loads.
func (r *Recognizer) Warm(ctx context.Context, modes ...asr.Mode) error {
	if len(modes) == 0 {
		modes = []asr.Mode{asr.ModeFree, asr.ModeDigits, asr.ModeYesNo}
	}
	for _, m := range modes {
		if err := checkMode(m); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r.mu.Lock()
		have, closed := len(r.idle[m]) > 0, r.closed
		r.mu.Unlock()
		if closed {
			return errRecognizerClosed
		}
		if have {
			continue
		}
		d, err := r.create(m)
		if err != nil {
			return err
		}
		r.put(m, d)
	}
	return nil
}

func checkMode(m asr.Mode) error {
	if m < 0 || int(m) >= numModes {
		return fmt.Errorf("sphinx: mode %v: %w", m, asr.ErrUnsupportedMode)
	}
	return nil
}

func checkLanguage(l call.Language) error {
	if l == "" || l == call.LangUndetermined || l == call.LangEnglish || strings.HasPrefix(string(l), "en-") {
		return nil
	}
	return fmt.Errorf("sphinx: language %q (the model is US English): %w", l, asr.ErrUnsupportedLanguage)
}

// NewStream opens a stream with a decoder from the pool, creating one if
// none is idle. The stream is closed when ctx is done.
func (r *Recognizer) NewStream(ctx context.Context, sc asr.StreamConfig) (asr.Stream, error) {
	if err := checkMode(sc.Mode); err != nil {
		return nil, err
	}
	if err := checkLanguage(sc.Language); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := r.get(sc.Mode)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		r.put(sc.Mode, d)
		return nil, err
	}
	return newStream(ctx, r, sc.Mode, d), nil
}

// get takes an idle decoder or creates one.
func (r *Recognizer) get(m asr.Mode) (*decoder, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errRecognizerClosed
	}
	if n := len(r.idle[m]); n > 0 {
		d := r.idle[m][n-1]
		r.idle[m][n-1] = nil
		r.idle[m] = r.idle[m][:n-1]
		r.mu.Unlock()
		return d, nil
	}
	r.mu.Unlock()
	return r.create(m)
}

func (r *Recognizer) create(m asr.Mode) (*decoder, error) {
	r.createMu.Lock()
	start := time.Now()
	d, err := newDecoder(r.specs[m])
	dur := time.Since(start)
	r.createMu.Unlock()
	if err != nil {
		r.log.Error("creating decoder", "mode", m, "err", err)
		return nil, err
	}
	r.created.Add(1)
	r.lastCreateDur.Store(int64(dur))
	r.log.Debug("decoder created", "mode", m, "took", dur)
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		d.free()
		return nil, errRecognizerClosed
	}
	return d, nil
}

// Cepstral mean normalisation (CMN) subtracts an estimate of the channel
// (microphone, codec, line) from the features. PocketSphinx estimates it
// live, but only revises the estimate at the end of an utterance or after
// 8 s of speech, so a stream's first utterance is decoded with whatever
// estimate its decoder starts with. The model's default is far from real
// recordings (measured: cards WER 0.48 from the default).
//
// An earlier version carried the estimate of recent streams over to the
// next ones. That made a call's transcript depend on the calls before it
// (an emergency heard or missed by chance), so now every stream starts
// from one fixed estimate, initialChannel, and adapts within the call
// only: the same recording gives the same transcript at any point of a
// run.

// initialChannel is the mean of the estimates the decoder reaches after
// each of goforward.raw, something.raw and numbers.raw (Debian
// pocketsphinx-testdata, /usr/share/pocketsphinx/test/data), each decoded
// whole in free mode from the model's default. No test scores transcripts
// of those recordings (TestYesNoRejectsRealSpeech only checks that yes/no
// mode rejects them), so the WER figures of cards and LibriVox are not
// tuned on themselves. Derived by TestDeriveInitialChannel
// (CALLBRIEF_DERIVE_CMN=1), which prints this literal.
var initialChannel = [13]float32{48.0558, -3.7615, -2.7547, 7.1100, 4.3828, -2.2027, -3.1922, -2.4826, -5.1995, 1.2540, -5.9181, -0.9283, 0.8131}

// primeChannel starts d from the fixed initial estimate, whatever the
// pooled decoder adapted to during its previous stream.
func (r *Recognizer) primeChannel(d *decoder) {
	d.setCMN(r.initCMN)
}

// put returns a decoder to the pool, or frees it when it failed, the pool
// is full or the recognizer is closed.
func (r *Recognizer) put(m asr.Mode, d *decoder) {
	d.reset()
	r.mu.Lock()
	if d.poisoned || r.closed || len(r.idle[m]) >= r.maxIdle {
		r.mu.Unlock()
		d.free()
		return
	}
	r.idle[m] = append(r.idle[m], d)
	r.mu.Unlock()
}

// Close frees the idle decoders. Streams still open keep their decoder
// until they close; it is freed then. NewStream fails after Close. Close
// may be called more than once.
func (r *Recognizer) Close() error {
	r.mu.Lock()
	r.closed = true
	var free []*decoder
	for m := range r.idle {
		free = append(free, r.idle[m]...)
		r.idle[m] = nil
	}
	r.mu.Unlock()
	for _, d := range free {
		d.free()
	}
	return nil
}
