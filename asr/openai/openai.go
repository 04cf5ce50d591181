// Package openai is an asr.Recognizer backed by any OpenAI-compatible
// transcription endpoint (POST {BaseURL}/audio/transcriptions): OpenAI
// itself, whisper servers (faster-whisper-server/speaches, whisper.cpp),
// vLLM, FunASR's OpenAI-compatible server, and so on.
//
// The engine is utterance based. A Stream buffers the 16 kHz frames written
// to it and emits no partial results; Flush encodes the buffered utterance
// as a 16-bit mono 16 kHz WAV in memory, uploads it with response_format
// verbose_json and word+segment timestamp granularities, and emits one final
// result built from the response. An utterance is capped at MaxUtterance of
// audio: Write returns ErrUtteranceTooLong for a frame that would exceed it
// and drops that frame, keeping what was buffered so that a Flush still
// transcribes the first MaxUtterance (the endpointer normally flushes long
// before that).
//
// Every attempt has its own timeout (Config.Timeout). Retryable failures
// (network errors, per-attempt timeouts, HTTP 408, 409, 429 and 5xx) are
// retried up to Config.Retries times with exponential backoff; other
// failures (400, 401, 403, 404, malformed responses) are returned at once.
// All failures wrap ErrTranscription and are of type *Error.
//
// Language hints are sent as ISO 639-1 codes because many compatible
// servers accept nothing else: every Chinese variety (zh, cmn, yue, wuu) is
// sent as "zh", English as "en". The language the server reports is mapped
// back to call.Language; when the server reports plain Chinese and the hint
// named a Chinese variety, the hint's variety is kept, since the server
// cannot tell varieties apart once told "zh".
//
// ModeDigits and ModeYesNo are implemented by normalising the free text
// (see NormalizeDigits and NormalizeYesNo).
package openai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	openaiapi "github.com/sashabaranov/go-openai"

	"github.com/callbrief/callbrief/asr"
	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/media"
)

// Defaults.
const (
	// DefaultTimeout is the per-attempt timeout used when Config.Timeout is 0.
	DefaultTimeout = 15 * time.Second
	// DefaultRetries is the retry count DefaultConfig sets.
	DefaultRetries = 2
	// MaxRetries is the largest Config.Retries accepted.
	MaxRetries = 10
	// MaxUtterance is the longest utterance a stream buffers.
	MaxUtterance = 60 * time.Second

	defaultBackoff    = 200 * time.Millisecond
	defaultMaxBackoff = 5 * time.Second
)

var (
	// ErrTranscription wraps every failure of the remote transcription call.
	ErrTranscription = errors.New("openai asr: transcription failed")
	// ErrUtteranceTooLong is returned by Write when the frame would take the
	// buffered utterance past MaxUtterance. The frame is dropped; what was
	// buffered is kept for Flush.
	ErrUtteranceTooLong = errors.New("openai asr: utterance too long")
	// ErrInvalidConfig wraps every error Config.Validate returns.
	ErrInvalidConfig = errors.New("openai asr: invalid config")
)

// Config configures a Recognizer.
type Config struct {
	// BaseURL is the API root including the version, e.g.
	// "https://api.openai.com/v1" or "http://whisper:8000/v1"; requests go
	// to BaseURL+"/audio/transcriptions".
	BaseURL string
	// BaseURLs are more servers of the same model: each utterance goes to
	// the least loaded healthy one of BaseURL and these, and a failed
	// attempt is retried on another (pool.go).
	BaseURLs []string
	// APIKey is sent as "Authorization: Bearer <APIKey>"; empty sends no
	// Authorization header (typical for self-hosted servers).
	APIKey string
	// Model is the server's model name, e.g. "whisper-1". Results carry
	// Engine "openai:"+Model.
	Model string
	// Timeout bounds each attempt (not the whole Flush). 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Retries is how many times a retryable failure is retried, 0..10.
	// 0 means a single attempt; DefaultConfig sets DefaultRetries (2).
	Retries int
	// Language is the default hint for streams whose StreamConfig has none.
	// Empty or "und" sends no hint and lets the server detect.
	Language call.Language
	// Prompt is sent as the prompt field when non-empty (vocabulary,
	// spelling of names and products).
	Prompt string
	// SplitAbove is the longest utterance sent whole when the pool has
	// more than one healthy server; a longer one is cut at its quietest
	// points into pieces (each its own final result, in order) decoded
	// at once on different servers (split.go). 0 never cuts.
	SplitAbove time.Duration
}

// DefaultConfig returns a Config for baseURL and model with the default
// timeout and retries.
func DefaultConfig(baseURL, model string) Config {
	return Config{BaseURL: baseURL, Model: model, Timeout: DefaultTimeout, Retries: DefaultRetries}
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Validate reports the first invalid field, by name. A zero Timeout is
// valid (DefaultTimeout applies).
func (c Config) Validate() error {
	c = c.withDefaults()
	for i, b := range append([]string{c.BaseURL}, c.BaseURLs...) {
		u, err := url.Parse(b)
		if b == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			field := "BaseURL"
			if i > 0 {
				field = fmt.Sprintf("BaseURLs[%d]", i-1)
			}
			return fmt.Errorf("%w: %s: %q is not an http(s) URL", ErrInvalidConfig, field, b)
		}
	}
	if strings.TrimSpace(c.Model) == "" {
		return fmt.Errorf("%w: Model: is empty", ErrInvalidConfig)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("%w: Timeout: %v is not positive", ErrInvalidConfig, c.Timeout)
	}
	if c.Retries < 0 || c.Retries > MaxRetries {
		return fmt.Errorf("%w: Retries: %d is not between 0 and %d", ErrInvalidConfig, c.Retries, MaxRetries)
	}
	if c.SplitAbove != 0 && (c.SplitAbove < 2*minPiece || c.SplitAbove > MaxUtterance) {
		return fmt.Errorf("%w: SplitAbove: %v is not 0 (never) or from %v to %v", ErrInvalidConfig, c.SplitAbove, 2*minPiece, MaxUtterance)
	}
	if _, err := languageHint(c.Language); err != nil {
		return fmt.Errorf("%w: Language: %v", ErrInvalidConfig, err)
	}
	return nil
}

// Option adjusts a Recognizer.
type Option func(*options)

type options struct {
	httpClient *http.Client
	backoff    time.Duration
	maxBackoff time.Duration
	health     func(baseURL string) bool
	coolOff    time.Duration
	perServer  int
}

// WithMaxInFlight caps the requests in flight at n per server of the pool
// (all servers together: n times their number); a request beyond waits
// for a place, with its context, before its attempt and its timeout
// begin. For servers that decode one request at a time (the local speech
// servers): what waits in the node can still be cancelled and does not
// spend its attempt's timeout in the server's queue, and no upload can
// stack up more work on the servers than the cap. 0: no cap (a cloud
// API).
func WithMaxInFlight(n int) Option {
	return func(o *options) { o.perServer = n }
}

// WithHealth tells the pool whether the server at a base URL can take
// requests now (a supervisor's state); a server reported down gets none
// while another is up. Without it every server is taken as up until a
// request to it fails.
func WithHealth(up func(baseURL string) bool) Option {
	return func(o *options) { o.health = up }
}

// WithHTTPClient makes the recognizer send requests with c (proxies, TLS,
// instrumentation, tests). Its Timeout, if any, applies on top of
// Config.Timeout. The recognizer does not close c's idle connections.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// WithBackoff sets the delay before the first retry (doubled for each
// further retry, jittered by up to -50%) and its cap. Defaults: 200ms, 5s.
func WithBackoff(first, max time.Duration) Option {
	return func(o *options) {
		if first > 0 {
			o.backoff = first
		}
		if max > 0 {
			o.maxBackoff = max
		}
	}
}

// Recognizer is an asr.Recognizer over an OpenAI-compatible endpoint. It is
// safe for concurrent use.
type Recognizer struct {
	cfg        Config
	log        *slog.Logger
	servers    []*server // BaseURL then BaseURLs
	pickMu     sync.Mutex
	slots      chan struct{} // places for requests in flight; nil: no cap
	httpClient *http.Client
	ownsClient bool
	backoff    time.Duration
	maxBackoff time.Duration
	verbose    bool // server accepts verbose_json + timestamp granularities
	closed     atomic.Bool
}

var _ asr.Recognizer = (*Recognizer)(nil)

// New validates cfg and returns a Recognizer. logger may be nil.
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Recognizer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{backoff: defaultBackoff, maxBackoff: defaultMaxBackoff, coolOff: defaultCoolOff}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxBackoff < o.backoff {
		o.maxBackoff = o.backoff
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Recognizer{
		cfg:        cfg,
		log:        logger.With("engine", "openai:"+cfg.Model),
		httpClient: o.httpClient,
		backoff:    o.backoff,
		maxBackoff: o.maxBackoff,
		verbose:    supportsVerbose(cfg.Model),
	}
	if r.httpClient == nil {
		// No client-level timeout: each attempt is bounded by its context.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32 // many calls share one endpoint
		r.httpClient = &http.Client{Transport: tr}
		r.ownsClient = true
	}
	// A copy of the client whose transport also reads the language
	// probability some servers report (langprob.go).
	hc := *r.httpClient
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = probeTransport{base: base}
	for _, b := range append([]string{cfg.BaseURL}, cfg.BaseURLs...) {
		oc := openaiapi.DefaultConfig(cfg.APIKey)
		oc.BaseURL = strings.TrimRight(b, "/")
		oc.HTTPClient = &hc
		srv := &server{index: len(r.servers), baseURL: b, client: openaiapi.NewClientWithConfig(oc), coolOff: o.coolOff}
		if o.health != nil {
			srv.up = func() bool { return o.health(b) }
		}
		r.servers = append(r.servers, srv)
	}
	if o.perServer > 0 {
		r.slots = make(chan struct{}, o.perServer*len(r.servers))
	}
	return r, nil
}

// supportsVerbose reports whether model accepts response_format
// verbose_json with timestamp granularities. OpenAI's gpt-*-transcribe
// models accept only json and text; everything else (whisper-1 and the
// self-hosted servers) is sent verbose_json.
func supportsVerbose(model string) bool {
	m := strings.ToLower(model)
	return !(strings.HasPrefix(m, "gpt-") && strings.Contains(m, "transcribe"))
}

// Name is "openai:" followed by the model.
func (r *Recognizer) Name() string { return "openai:" + r.cfg.Model }

// SampleRate is 16 kHz.
func (r *Recognizer) SampleRate() int { return media.Rate16k }

// NewStream opens a stream. cfg.Language overrides Config.Language; a
// language that cannot be sent as an ISO 639-1 hint is
// asr.ErrUnsupportedLanguage. All three modes are supported.
func (r *Recognizer) NewStream(ctx context.Context, cfg asr.StreamConfig) (asr.Stream, error) {
	if r.closed.Load() {
		return nil, fmt.Errorf("openai asr: recognizer closed: %w", asr.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch cfg.Mode {
	case asr.ModeFree, asr.ModeDigits, asr.ModeYesNo:
	default:
		return nil, fmt.Errorf("%w: %v", asr.ErrUnsupportedMode, cfg.Mode)
	}
	lang := cfg.Language
	if lang == "" {
		lang = r.cfg.Language
	}
	hint, err := languageHint(lang)
	if err != nil {
		return nil, err
	}
	return newStream(ctx, r, cfg.Mode, lang, hint), nil
}

// Close releases idle connections of the HTTP client the recognizer made.
// Streams must be closed first; NewStream fails afterwards.
func (r *Recognizer) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if r.ownsClient {
		r.httpClient.CloseIdleConnections()
	}
	return nil
}
