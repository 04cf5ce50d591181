// Package config is callbrief's configuration: defaults, then a strict YAML
// file (unknown keys are errors), then CALLBRIEF_* environment variables,
// then command-line overrides, then Validate, which names the bad field.
// An empty address for an external service means "use the embedded default".
package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/callbrief/callbrief/media/vad"
	"github.com/callbrief/callbrief/verify/otp"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("config: invalid")

// Config is the whole configuration.
type Config struct {
	Log      Log      `yaml:"log"`
	HTTP     HTTP     `yaml:"http"`
	CacheDir string   `yaml:"cache_dir"` // model cache; empty means the default
	VAD      VAD      `yaml:"vad"`
	ASR      ASR      `yaml:"asr"`
	Shutdown Shutdown `yaml:"shutdown"`
	Store    Store    `yaml:"store"`
	Desk     Desk     `yaml:"desk"`
	Files    Files    `yaml:"files"`
	WebRTC   WebRTC   `yaml:"webrtc"`
	TTS      TTS      `yaml:"tts"`
	KB       KB       `yaml:"kb"`
	Admit    Admit    `yaml:"admission"`
	SIP      SIP      `yaml:"sip"`
	SMS      SMS      `yaml:"sms"`
	Dev      Dev      `yaml:"dev"`
	API      API      `yaml:"api"`
	Intent   Intent   `yaml:"intent"`
}

// Intent configures the intent classifier.
type Intent struct {
	// Dense is the sentence embedder added to the sparse model: "e5"
	// (multilingual-e5-small from the model cache; the sparse model alone,
	// with a warning, when it is missing) or "none".
	Dense string `yaml:"dense"`
	// EmbedWait bounds how long a turn waits for its utterance's
	// embedding before the sparse model answers alone; the late embedding
	// still serves the knowledge-base search.
	EmbedWait time.Duration `yaml:"embed_wait"`
	// RefineWait bounds a second wait, just before the handoff, for an
	// embedding that was later than embed_wait: the turn is classified
	// again with it (sparse + e5) and the brief and the route take that
	// answer; an emergency found by the first answer is never undone. After
	// verification's questions the embedding is long done and this costs
	// nothing; the two waits together stay within the 30 ms the intent may
	// spend per turn. 0 turns the second answer off.
	RefineWait time.Duration `yaml:"refine_wait"`
	// OffTopic is what happens to an utterance whose words are not the
	// hotline's (the relevance model, see nlu/relevance): "reject" files
	// it out of scope whatever intent the classifier guessed (emergency
	// phrases still win), "keep" only reports the score.
	OffTopic string `yaml:"off_topic"`
}

// Admit bounds the recorded calls (uploads to /v1/calls and /v1/transcribe)
// a node recognises at once: past Max, up to Queue more wait at most Wait
// (or their own deadline) for a place; the rest get 503 with Retry-After
// at once, rather than all of them being served too late.
type Admit struct {
	// Max is how many are recognised at once; 0: one per core.
	Max   int           `yaml:"max"`
	Queue int           `yaml:"queue"`
	Wait  time.Duration `yaml:"wait"`
	// BodyTimeout bounds reading an upload's body: a slow sender holds a
	// connection, not the node.
	BodyTimeout time.Duration `yaml:"body_timeout"`
}

// SIP configures telephone calls arriving over SIP trunks (off while Addr
// is empty). Trunks can only be given in the YAML file.
type SIP struct {
	// Addr is host:port the UDP and TCP listeners bind; empty: no SIP.
	Addr string `yaml:"addr"`
	// Transports is a comma-separated list of udp and tcp.
	Transports string `yaml:"transports"`
	// MediaIP is the address put in SDP answers for RTP; empty: Addr's
	// host (which must then not be a wildcard).
	MediaIP    string `yaml:"media_ip"`
	RTPPortMin int    `yaml:"rtp_port_min"`
	RTPPortMax int    `yaml:"rtp_port_max"`
	MaxCalls   int    `yaml:"max_calls"`
	// SetupRate is the call set-ups per second taken (burst: one
	// second's worth); past it INVITEs get 503 with Retry-After.
	SetupRate float64 `yaml:"setup_rate"`
	// SourceRate is the SIP messages per second one address may send
	// (burst: two seconds' worth); past it its messages are dropped
	// unanswered and counted. Trunks' own addresses are exempt.
	SourceRate float64 `yaml:"source_rate"`
	// MaxConnections caps the TCP and TLS connections each listener holds
	// at once (past it a new one is closed); FirstMessage is how long a
	// new connection has to send its first message, TLS handshake included
	// (a peer that connects and says nothing is closed then).
	MaxConnections int           `yaml:"max_connections"`
	FirstMessage   time.Duration `yaml:"first_message"`
	RetryAfter     time.Duration `yaml:"retry_after"`
	// Ring is how long a call rings (180) before it is answered.
	Ring   time.Duration `yaml:"ring"`
	Trunks []SIPTrunk    `yaml:"trunks"`
	// Handoffs say, per skill group, where a SIP call goes after its
	// brief: the web desk (the default for every group) or the
	// hotline's own contact centre, by a blind transfer to its ACD.
	Handoffs []SIPHandoff `yaml:"handoffs"`
	// DeskURL is the desk's address as the contact centre's agents reach
	// it: the brief URL a transferred call carries starts with it.
	// Empty: http.advertise_url.
	DeskURL string `yaml:"desk_url"`
	// TransferTimeout bounds the wait for the caller's side to report
	// that the ACD answered; past it the call goes to the desk.
	TransferTimeout time.Duration `yaml:"transfer_timeout"`
	// Codecs are the audio codecs taken, comma-separated, of PCMU, PCMA,
	// G722 and opus; a call gets the caller's first preference among them.
	Codecs string `yaml:"codecs"`
	// TLS is a SIP over TLS listener, beside UDP and TCP (off while its
	// addr is empty).
	TLS SIPTLS `yaml:"tls"`
	// SessionExpires is the session interval (RFC 4028) offered to a
	// caller that supports session timers, and the most a caller's
	// Session-Expires is taken at; the session ends (BYE) when it is not
	// refreshed within it.
	SessionExpires time.Duration `yaml:"session_expires"`
	// MinSE is the shortest session interval taken; a shorter
	// Session-Expires is answered 422 with Min-SE. RFC 4028 floors it at
	// 90s.
	MinSE time.Duration `yaml:"min_se"`
	// TestShortTimers lets min_se and session_expires go below 90s, for
	// tests that watch a session expire; never in service.
	TestShortTimers bool `yaml:"test_short_timers"`
}

// SIPTLS is the SIP over TLS listener (RFC 3261 section 26; port 5061).
type SIPTLS struct {
	// Addr is host:port the TLS listener binds.
	Addr string `yaml:"addr"`
	// Cert and Key are PEM files: the node's certificate (chain) and
	// its private key.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// SIPHandoff is where one skill group's SIP calls go after the brief.
type SIPHandoff struct {
	Group string `yaml:"group"`
	// To is "desk" or "acd".
	To string `yaml:"to"`
	// ACD is the SIP URI of the group's ACD queue (to: acd), e.g.
	// sip:billing@acd.example.com:5060.
	ACD string `yaml:"acd"`
}

// SIPTrunk is one carrier or PBX allowed to send calls.
type SIPTrunk struct {
	Name string `yaml:"name"`
	// Sources are the addresses or CIDRs its requests may come from.
	Sources []string `yaml:"sources"`
	// Username and Password, when set, require digest authentication of
	// its INVITEs (Realm defaults to "callbrief").
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Realm    string `yaml:"realm"`
	// NumberHeader carries the caller's number: from,
	// p-asserted-identity or remote-party-id (default from).
	NumberHeader string `yaml:"number_header"`
	// Trusted: the trunk vouches for the identity headers it sends
	// (RFC 3325). On an untrusted trunk P-Asserted-Identity and
	// Remote-Party-ID are ignored and the From number is a claim.
	Trusted bool `yaml:"trusted"`
	// RequireTLS: the trunk's requests are taken over TLS only; over UDP
	// or TCP they are refused 403 (its digest password and callers'
	// numbers stay off the wire in clear).
	RequireTLS bool `yaml:"require_tls"`
	// Numbers maps the dialled numbers it may call to the hotline line
	// they reach, named by its language (cmn, yue or en: what the caller
	// is greeted in); "*" matches any number. Empty: any number, cmn.
	Numbers map[string]string `yaml:"numbers"`
}

// KB configures the knowledge base the briefs draw suggestions from.
type KB struct {
	// Dir is the folder `callbrief kb ingest` built; empty: <cache>/kb.
	Dir string `yaml:"dir"`
	// Timeout is the brief's budget for suggestions: past it the brief
	// goes out without them, marked, and the search is abandoned.
	Timeout time.Duration `yaml:"timeout"`
}

// SMS chooses how one-time codes reach the caller's phone.
type SMS struct {
	// Gateway: "dev" is the development gateway, which sends nothing and
	// keeps the messages for dev.otp_page; serve announces it at start.
	// "http" hands each message to an SMS provider's HTTP API (otp.HTTPGateway):
	// URL (https, or http to a relay on this machine), Token (its bearer
	// credential; CALLBRIEF_SMS_TOKEN) and Sender.
	Gateway string `yaml:"gateway"`
	URL     string `yaml:"url"`
	Token   string `yaml:"token"`
	Sender  string `yaml:"sender"`
}

// Dev holds development switches. Each is off by default and refused
// together with a shared store (store.redis_addr): a shared store means a
// deployment, where these would leak codes.
type Dev struct {
	// OTPPage serves GET /v1/otp/recent: every code the development SMS
	// gateway "sent", without sign-in.
	OTPPage bool `yaml:"otp_page"`
}

// API configures the operator and integration endpoints (/v1/calls,
// /v1/transcribe).
type API struct {
	// Keys are the accepted API keys, each with its scopes. Empty and no
	// shared store: serve makes one development key and prints it at
	// start. With a shared store at least one key is required.
	Keys []APIKey `yaml:"keys"`
	// Key is one more key with every scope, settable from the environment
	// (CALLBRIEF_API_KEY) for tests, the evaluation runner and scripts.
	Key string `yaml:"key"`
}

// APIKey is one key. Key is the key itself or, better, "sha256:" and the
// hex SHA-256 of it, so that the configuration holds no usable key.
type APIKey struct {
	Name   string   `yaml:"name"`
	Key    string   `yaml:"key"`
	Scopes []string `yaml:"scopes"` // calls, transcribe
}

// WebRTC configures live calls from browsers and apps (WHIP ingest).
type WebRTC struct {
	// STUN and TURN are comma-separated ICE server URLs; TURN credentials
	// go in TURNUsername and TURNCredential. Empty: host candidates only
	// (a caller on the same network, or a public IP in PublicIPs).
	STUN           string `yaml:"stun"`
	TURN           string `yaml:"turn"`
	TURNUsername   string `yaml:"turn_username"`
	TURNCredential string `yaml:"turn_credential"`
	// TURNSecret, shared with the TURN server (coturn's
	// static-auth-secret), replaces the static username and credential:
	// each call and each page gets its own credential, valid for TURNTTL.
	TURNSecret string        `yaml:"turn_secret"`
	TURNTTL    time.Duration `yaml:"turn_ttl"`
	PublicIPs  string        `yaml:"public_ips"` // comma-separated, for 1:1 NAT
	UDPPortMin int           `yaml:"udp_port_min"`
	UDPPortMax int           `yaml:"udp_port_max"`
	ICETimeout time.Duration `yaml:"ice_timeout"`
	MaxCalls   int           `yaml:"max_calls"`
	// AnswerTimeout bounds each wait for the caller's answer to a
	// verification question; silence until then counts as no answer.
	AnswerTimeout time.Duration `yaml:"answer_timeout"`
	// TurnTimeout bounds the wait for the caller to start speaking.
	TurnTimeout time.Duration `yaml:"turn_timeout"`
	// HoldTimeout bounds a handed-over caller's wait for an agent to join
	// the audio; the caller is then told they will be called back.
	HoldTimeout time.Duration `yaml:"hold_timeout"`
	// Loopback offers loopback candidates: development on one machine.
	Loopback bool `yaml:"loopback"`
	// OffersPerMinute and PagePerMinute limit, per client address, the
	// WHIP offers (a burst of 5) and the caller page's requests (a burst
	// of 60): both are reached without signing in. 0 turns a limit off.
	OffersPerMinute int `yaml:"offers_per_minute"`
	PagePerMinute   int `yaml:"page_per_minute"`
}

// TTS chooses the voice of the prompts.
type TTS struct {
	// BaseURL of an OpenAI-compatible speech endpoint; empty: espeak-ng.
	BaseURL   string `yaml:"base_url"`
	APIKey    string `yaml:"api_key"`
	Model     string `yaml:"model"`
	Voice     string `yaml:"voice"`
	EspeakBin string `yaml:"espeak_bin"`
}

// Store chooses where state, queues and lockouts live.
type Store struct {
	// RedisAddr is host:port of Redis; empty means the in-process store
	// (one node only).
	RedisAddr     string `yaml:"redis_addr"`
	RedisPassword string `yaml:"redis_password"`
	RedisDB       int    `yaml:"redis_db"`
	// SentinelMaster and SentinelAddrs (comma-separated host:port) use a
	// Redis Sentinel group instead of redis_addr: the nodes follow a
	// failover to the promoted replica.
	SentinelMaster string `yaml:"sentinel_master"`
	SentinelAddrs  string `yaml:"sentinel_addrs"`
	// ReplicaAcks, when positive, acknowledges a write only once that many
	// replicas have it (WAIT): replication is asynchronous, and without it
	// a failover may lose the last writes the old primary acknowledged.
	ReplicaAcks int `yaml:"replica_acks"`
	// OutboxMax bounds the calls a node keeps while Redis is unavailable
	// (their briefs and queue entries, delivered when it returns); past
	// it a handoff fails. OutboxDir, when set, keeps them on disk too, so
	// a node restarted during the outage still delivers them.
	OutboxMax int    `yaml:"outbox_max"`
	OutboxDir string `yaml:"outbox_dir"`
	// Secret keys one-time code hashes and lockout keys; every node on one
	// Redis must share it, so it is required with RedisAddr (a random
	// secret per node would forget every lockout on restart and give an
	// attacker each node's allowance). Empty without Redis: random per
	// process.
	Secret string `yaml:"secret"`
}

// SentinelList is SentinelAddrs split at commas.
func (s Store) SentinelList() []string {
	var out []string
	for _, a := range strings.Split(s.SentinelAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Shared reports whether state lives in Redis (an address or Sentinel),
// shared by every node.
func (s Store) Shared() bool { return s.RedisAddr != "" || s.SentinelMaster != "" }

// Desk configures the agents' web desk.
type Desk struct {
	// Secret signs desk access tokens; every node must share it, so it is
	// required with store.redis_addr. Empty without Redis: random per
	// process.
	Secret   string        `yaml:"secret"`
	TokenTTL time.Duration `yaml:"token_ttl"`
	// ReconnectGrace is how long an agent whose desk lost its connection
	// keeps their calls before they go back to the queue: a desk
	// reconnects within a second or two of a network blip, and a caller
	// talking to the agent must not be offered to someone else meanwhile.
	ReconnectGrace time.Duration `yaml:"reconnect_grace"`
	// RingOut is how long an offered call rings on one agent's desk
	// before it goes to the next eligible agent and the agent who let it
	// ring is set not ready, as an ACD does.
	RingOut time.Duration `yaml:"ring_out"`
}

// Files points at operator data; empty means the embedded demo data.
type Files struct {
	// Taxonomy is an operator's intent taxonomy (data/taxonomy's format)
	// and Utterances its training examples (intent, language, text; tab
	// separated); empty: the embedded ones. Routing, policy, tickets and
	// KB articles are checked against it at start.
	Taxonomy   string `yaml:"taxonomy"`
	Utterances string `yaml:"utterances"`
	Accounts   string `yaml:"accounts"`
	Policy     string `yaml:"policy"`
	Routing    string `yaml:"routing"`
	Agents     string `yaml:"agents"`
	// IntentModel is a model written by `callbrief models train`; empty:
	// trained from the embedded taxonomy at start (well under a second).
	IntentModel string `yaml:"intent_model"`
	// VarietyModel is a Chinese variety model written by `callbrief models
	// train`; empty: the model built into the binary.
	VarietyModel string `yaml:"variety_model"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// HTTP is the serve command's listener.
type HTTP struct {
	Addr string `yaml:"addr"`
	// AdvertiseURL is how the other nodes reach this one
	// (http://10.0.0.5:8080). With a shared Redis, a desk connected to any
	// node can then join the audio of a call held on this one: the node
	// forwards the agent's request here. Empty: one node, or a load
	// balancer that routes each call's requests to its node.
	AdvertiseURL string `yaml:"advertise_url"`
}

// Shutdown bounds the graceful drain.
type Shutdown struct {
	// Drain is how long a stopping node (SIGTERM) lets its calls in
	// progress (uploads, live WebRTC and SIP calls) go on while refusing
	// new ones; past it the calls still up are hung up, their briefs kept
	// and marked for a call-back. Default 60 s: most calls reach their
	// handoff within it. An orchestrator's stop timeout must exceed it by
	// some 15 s (terminationGracePeriodSeconds, TimeoutStopSec).
	Drain time.Duration `yaml:"drain"`
}

// VAD selects the voice activity detector and endpointing.
type VAD struct {
	Engine   string             `yaml:"engine"` // auto (silero, else energy), silero or energy
	Threads  int                `yaml:"threads"`
	Endpoint vad.EndpointConfig `yaml:"endpoint"`
	// PauseDecode is the silence inside a live caller's opening turn
	// after which the turn so far is recognised speculatively
	// (pipeline.PausedTranscriber): if the silence was the end, the final
	// is ready sooner; if the caller goes on, the guess is dropped. 0
	// turns it off. It must be shorter than the endpoint's hangover, or no
	// pause is ever seen.
	PauseDecode time.Duration `yaml:"pause_decode"`
}

// ASR selects the recognizer.
type ASR struct {
	// Engine is auto, sphinx (embedded, English) or openai (any
	// OpenAI-compatible transcription server for every stream).
	//
	// auto (the default) hears every caller with a multilingual engine
	// that decides the language from the audio: the OpenAI-compatible
	// server at openai.base_url when one is set, else the local Whisper
	// speech server, which callbrief starts and supervises when
	// speechserver/setup.sh has installed it. pocketsphinx keeps the digit
	// and yes/no grammars and takes over while the server is down; with
	// neither server, auto is sphinx alone.
	Engine string `yaml:"engine"`
	// English is the engine of English-hinted free speech under auto:
	// multilingual (Whisper: WER 0% against 16.7% on the LibriSpeech clip)
	// or sphinx.
	English string `yaml:"english"`
	// Grammars is the engine of digit and yes/no streams under auto: sphinx
	// (its grammars cannot mishear "four" as "for") or multilingual.
	Grammars string `yaml:"grammars"`
	// SpeechServer is the supervised local server of auto.
	SpeechServer SpeechServer `yaml:"speechserver"`
	// ChineseEngine, when "openai", sends streams whose language is
	// Chinese to the OpenAI-compatible server (the embedded engine is
	// English only); empty uses Engine for everything.
	ChineseEngine string       `yaml:"chinese_engine"`
	Sphinx        SphinxASR    `yaml:"sphinx"`
	OpenAI        OpenAIClient `yaml:"openai"`
}

// SpeechServer configures the local Whisper server that auto supervises.
type SpeechServer struct {
	// Addr is the loopback host:port it listens on; port 0 picks a free one.
	Addr string `yaml:"addr"`
	// Threads are each server's decoding threads; 0 shares the cores
	// among the servers (at least one each).
	Threads int `yaml:"threads"`
	// Count is how many local servers to run (1 to 8), each on a free
	// loopback port; utterances go to the least loaded one that is up,
	// and fail over to another. More than one needs addr port 0.
	// 0 (default) is one per core, at most 4: a server decodes one
	// request at a time, and on whisper-base a second thread in one
	// decode gains little (a 14.7 s turn: 1.39 s on one thread, 1.47 s
	// on two), while a second server decodes a second turn, or the other
	// half of a long one (asr.openai.split_above), at the same time
	// (docs/load.md).
	Count int `yaml:"count"`
	// StartTimeout bounds the wait for it to load its model at start.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// Nice is how much lower than the node's the servers' CPU priority
	// is (0 to 19 niceness steps, capped at 19; default 0). On a
	// machine that runs the node alone, recognition is the bulk of the
	// CPU and the node's own work is small and latency-bound (RTP pacing,
	// VAD, the intent's e5 within intent.embed_wait): a positive value
	// lets that go first. Not the default: beside any other busy process
	// a niced server starves (measured at 10 beside a 4-caller soak:
	// every 15 s attempt timed out and the calls went to the desk unheard).
	Nice int `yaml:"nice"`
	// Window is the encoder's input window: "speech" (the turn and 1 s,
	// at least 5 s; default) or "30s" (Whisper's own window, padded).
	// A caller's turn is a few seconds and a 30 s window is mostly
	// padding: "speech" decodes a turn about twice as fast, at about the
	// same accuracy on the project's small sets (docs/measurements.md).
	Window string `yaml:"window"`
}

// SphinxASR locates the pocketsphinx model.
type SphinxASR struct {
	ModelDir string `yaml:"model_dir"`
}

// OpenAIClient is an OpenAI-compatible endpoint.
type OpenAIClient struct {
	BaseURL string `yaml:"base_url"`
	// BaseURLs are more servers of the same model beside base_url: each
	// utterance goes to the least loaded healthy one, and a
	// failed attempt to another. In --set and the environment, comma
	// separated.
	BaseURLs []string      `yaml:"base_urls"`
	APIKey   string        `yaml:"api_key"`
	Model    string        `yaml:"model"`
	Timeout  time.Duration `yaml:"timeout"`
	Retries  int           `yaml:"retries"`
	// Prompt primes the recognizer (e.g. 以下是普通话的句子。 asks Whisper for
	// simplified characters).
	Prompt string `yaml:"prompt"`
	// SplitAbove: with more than one server up, a turn longer than this
	// is cut at its quietest points into pieces decoded at once on
	// different servers, so a caller who speaks long without pausing
	// waits about half as long on two servers (default 8s; 0 never cuts).
	SplitAbove time.Duration `yaml:"split_above"`
}

// Default returns the embedded defaults: everything runs in process.
func Default() Config {
	return Config{
		Log:  Log{Level: "info", Format: "text"},
		HTTP: HTTP{Addr: "127.0.0.1:8080"},
		VAD:  VAD{Engine: "auto", Threads: 1, Endpoint: vad.DefaultEndpointConfig(), PauseDecode: 300 * time.Millisecond},
		ASR: ASR{Engine: "auto", English: "multilingual", Grammars: "sphinx",
			SpeechServer: SpeechServer{Addr: "127.0.0.1:0", StartTimeout: 2 * time.Minute, Window: "speech"},
			Sphinx:       SphinxASR{ModelDir: "/usr/share/pocketsphinx/model/en-us"}, OpenAI: OpenAIClient{Model: "whisper-1", Timeout: 15 * time.Second, Retries: 2, SplitAbove: 8 * time.Second}},
		Shutdown: Shutdown{Drain: 60 * time.Second},
		Desk:     Desk{TokenTTL: 12 * time.Hour, ReconnectGrace: 15 * time.Second, RingOut: 20 * time.Second},
		SMS:      SMS{Gateway: "dev"},
		WebRTC: WebRTC{TURNTTL: 12 * time.Hour, ICETimeout: 15 * time.Second, MaxCalls: 200, Loopback: true, AnswerTimeout: 10 * time.Second, TurnTimeout: 12 * time.Second,
			HoldTimeout: 10 * time.Minute, OffersPerMinute: 20, PagePerMinute: 300},
		TTS:   TTS{EspeakBin: "espeak-ng"},
		KB:    KB{Timeout: 500 * time.Millisecond},
		Admit: Admit{Queue: 8, Wait: 10 * time.Second, BodyTimeout: 60 * time.Second},
		SIP: SIP{Transports: "udp,tcp", RTPPortMin: 20000, RTPPortMax: 20999, MaxCalls: 200, SetupRate: 20, SourceRate: 50, MaxConnections: 1024, FirstMessage: 10 * time.Second, TransferTimeout: 30 * time.Second,
			RetryAfter: 5 * time.Second, Codecs: "PCMU,PCMA,G722,opus", SessionExpires: 30 * time.Minute, MinSE: 90 * time.Second},
		Intent: Intent{Dense: "e5", EmbedWait: 20 * time.Millisecond, RefineWait: 10 * time.Millisecond, OffTopic: "reject"},
	}
}

// Load builds the configuration: defaults, the YAML file at path (if not
// empty), the environment (CALLBRIEF_ASR_ENGINE=openai sets asr.engine),
// then overrides ("asr.engine=openai"), then Validate.
func Load(path string, environ []string, overrides []string) (Config, error) {
	c := Default()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		defer f.Close()
		if err := Decode(f, &c); err != nil {
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return c, err
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return c, fmt.Errorf("%w: override %q is not key=value", ErrInvalid, o)
		}
		if err := Set(&c, k, v); err != nil {
			return c, err
		}
	}
	return c, c.Validate()
}

// Decode reads strict YAML into c: unknown keys are errors.
func Decode(r io.Reader, c *Config) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

const envPrefix = "CALLBRIEF_"

func applyEnv(c *Config, environ []string) error {
	keys := Keys()
	byEnv := map[string]string{}
	for _, k := range keys {
		byEnv[envPrefix+strings.ToUpper(strings.NewReplacer(".", "_").Replace(k))] = k
	}
	sort.Strings(environ) // deterministic order of application
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) {
			continue
		}
		key, ok := byEnv[name]
		if !ok {
			// CALLBRIEF_CACHE is read by the models package itself.
			if name == "CALLBRIEF_CACHE" {
				continue
			}
			return fmt.Errorf("%w: unknown environment variable %s", ErrInvalid, name)
		}
		if err := Set(c, key, val); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// Keys lists every settable key, dotted by YAML names ("asr.openai.model").
func Keys() []string {
	var out []string
	walk(reflect.TypeOf(Config{}), "", func(k string, _ []int) { out = append(out, k) })
	return out
}

// Overrides lists the keys whose value in c differs from Default(), as
// "key=value", in key order: what an evaluation report names so a figure
// measured on another stack than the one `serve` runs by default says so.
// Values of keys that hold secrets, keys or passwords are masked.
func Overrides(c Config) []string {
	d := reflect.ValueOf(Default())
	v := reflect.ValueOf(c)
	var out []string
	walk(reflect.TypeOf(c), "", func(k string, idx []int) {
		a, b := v.FieldByIndex(idx), d.FieldByIndex(idx)
		if reflect.DeepEqual(a.Interface(), b.Interface()) {
			return
		}
		val := fmt.Sprint(a.Interface())
		last := k[strings.LastIndex(k, ".")+1:]
		if strings.Contains(last, "secret") || strings.Contains(last, "key") || strings.Contains(last, "password") || strings.Contains(last, "token") {
			val = "(set)"
		}
		if trunks, ok := a.Interface().([]SIPTrunk); ok {
			// Trunks hold digest passwords: name them, no more.
			names := make([]string, len(trunks))
			for i, t := range trunks {
				names[i] = t.Name
			}
			val = "[" + strings.Join(names, " ") + "]"
		}
		out = append(out, k+"="+val)
	})
	return out
}

func walk(t reflect.Type, prefix string, fn func(key string, index []int)) {
	var rec func(t reflect.Type, prefix string, idx []int)
	rec = func(t reflect.Type, prefix string, idx []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			path := append(append([]int{}, idx...), i)
			if f.Type.Kind() == reflect.Struct {
				rec(f.Type, key, path)
				continue
			}
			fn(key, path)
		}
	}
	rec(t, prefix, nil)
}

// Set assigns the string value v to the dotted key.
func Set(c *Config, key, v string) error {
	var index []int
	walk(reflect.TypeOf(*c), "", func(k string, idx []int) {
		if k == key {
			index = idx
		}
	})
	if index == nil {
		return fmt.Errorf("%w: unknown key %q", ErrInvalid, key)
	}
	f := reflect.ValueOf(c).Elem().FieldByIndex(index)
	switch {
	case f.Type() == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%w: %s: %q is not a duration (e.g. 500ms, 2s)", ErrInvalid, key, v)
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(v)
	case f.Kind() == reflect.Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%w: %s: %q is not an integer", ErrInvalid, key, v)
		}
		f.SetInt(int64(n))
	case f.Kind() == reflect.Float32 || f.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%w: %s: %q is not a number", ErrInvalid, key, v)
		}
		f.SetFloat(x)
	case f.Type() == reflect.TypeOf([]string(nil)):
		var list []string
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		f.Set(reflect.ValueOf(list))
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%w: %s: %q is not true or false", ErrInvalid, key, v)
		}
		f.SetBool(b)
	default:
		return fmt.Errorf("%w: %s cannot be set from text", ErrInvalid, key)
	}
	return nil
}

// Validate names the first bad field.
func (c Config) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, a...))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return bad("log.format", "%q is not text or json", c.Log.Format)
	}
	if c.HTTP.Addr == "" || !strings.Contains(c.HTTP.Addr, ":") {
		return bad("http.addr", "%q is not host:port", c.HTTP.Addr)
	}
	if c.Admit.Max < 0 || c.Admit.Queue < 0 {
		return bad("admission.max", "max %d and queue %d may not be negative", c.Admit.Max, c.Admit.Queue)
	}
	if c.Admit.Wait <= 0 || c.Admit.BodyTimeout <= 0 {
		return bad("admission.wait", "wait %s and body_timeout %s must be positive", c.Admit.Wait, c.Admit.BodyTimeout)
	}
	if c.Intent.Dense != "e5" && c.Intent.Dense != "none" {
		return bad("intent.dense", "%q is not e5 or none", c.Intent.Dense)
	}
	if c.Intent.OffTopic != "reject" && c.Intent.OffTopic != "keep" {
		return bad("intent.off_topic", "%q is not reject or keep", c.Intent.OffTopic)
	}
	if c.Intent.EmbedWait < 0 || c.Intent.EmbedWait > 5*time.Second {
		return bad("intent.embed_wait", "%s is not between 0 and 5s", c.Intent.EmbedWait)
	}
	if c.Intent.RefineWait < 0 || c.Intent.RefineWait > 5*time.Second {
		return bad("intent.refine_wait", "%s is not between 0 and 5s", c.Intent.RefineWait)
	}
	if c.KB.Timeout <= 0 || c.KB.Timeout > 10*time.Second {
		return bad("kb.timeout", "%s is not between 0 and 10s", c.KB.Timeout)
	}
	if c.Shutdown.Drain <= 0 {
		return bad("shutdown.drain", "must be positive")
	}
	if c.Store.RedisAddr != "" && !strings.Contains(c.Store.RedisAddr, ":") {
		return bad("store.redis_addr", "%q is not host:port", c.Store.RedisAddr)
	}
	if (c.Store.SentinelMaster == "") != (c.Store.SentinelAddrs == "") {
		return bad("store.sentinel_master", "store.sentinel_master and store.sentinel_addrs go together")
	}
	for _, a := range c.Store.SentinelList() {
		if !strings.Contains(a, ":") {
			return bad("store.sentinel_addrs", "%q is not host:port", a)
		}
	}
	if c.Store.OutboxMax < 0 {
		return bad("store.outbox_max", "%d may not be negative", c.Store.OutboxMax)
	}
	if c.Store.ReplicaAcks < 0 {
		return bad("store.replica_acks", "%d may not be negative", c.Store.ReplicaAcks)
	}
	if c.Store.Secret != "" && len(c.Store.Secret) < 16 {
		return bad("store.secret", "must be at least 16 characters")
	}
	if c.Desk.Secret != "" && len(c.Desk.Secret) < 16 {
		return bad("desk.secret", "must be at least 16 characters")
	}
	switch c.SMS.Gateway {
	case "dev":
	case "http":
		if err := otp.CheckURL(c.SMS.URL); err != nil {
			return bad("sms.url", "%v", err)
		}
		if len(c.SMS.Token) < 8 {
			return bad("sms.token", "the provider's token is required with sms.gateway http (CALLBRIEF_SMS_TOKEN)")
		}
	default:
		return bad("sms.gateway", "%q is not dev (the development gateway, which sends nothing) or http (an SMS provider's HTTP API: sms.url, sms.token)", c.SMS.Gateway)
	}
	if c.Dev.OTPPage && c.SMS.Gateway != "dev" {
		return bad("dev.otp_page", "needs sms.gateway dev")
	}
	if c.API.Key != "" {
		if err := checkAPIKey(c.API.Key); err != nil {
			return bad("api.key", "%v", err)
		}
	}
	for i, k := range c.API.Keys {
		f := fmt.Sprintf("api.keys[%d]", i)
		if k.Name == "" {
			return bad(f+".name", "is empty")
		}
		if err := checkAPIKey(k.Key); err != nil {
			return bad(f+".key", "%v", err)
		}
		if len(k.Scopes) == 0 {
			return bad(f+".scopes", "none given (want calls, transcribe)")
		}
		for _, sc := range k.Scopes {
			if sc != "calls" && sc != "transcribe" {
				return bad(f+".scopes", "%q is not calls or transcribe", sc)
			}
		}
	}
	if c.WebRTC.UDPPortMin < 0 || c.WebRTC.UDPPortMax > 65535 || c.WebRTC.UDPPortMin > c.WebRTC.UDPPortMax {
		return bad("webrtc.udp_port_min", "%d-%d is not a port range", c.WebRTC.UDPPortMin, c.WebRTC.UDPPortMax)
	}
	if c.WebRTC.ICETimeout <= 0 {
		return bad("webrtc.ice_timeout", "must be positive")
	}
	if c.WebRTC.AnswerTimeout <= 0 {
		return bad("webrtc.answer_timeout", "must be positive")
	}
	if c.WebRTC.TurnTimeout <= 0 {
		return bad("webrtc.turn_timeout", "must be positive")
	}
	if u := c.HTTP.AdvertiseURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || (pu.Path != "" && pu.Path != "/") {
			return bad("http.advertise_url", "%q is not an http(s)://host:port address", u)
		}
		if !c.Store.Shared() {
			return bad("http.advertise_url", "needs store.redis_addr (nodes find each other's calls there)")
		}
	}
	if w := c.WebRTC; w.TURNSecret != "" && (w.TURN == "" || w.TURNUsername != "" || w.TURNCredential != "") {
		return bad("webrtc.turn_secret", "needs webrtc.turn and replaces webrtc.turn_username and turn_credential (set one or the other)")
	}
	if c.WebRTC.TURNTTL <= 0 {
		return bad("webrtc.turn_ttl", "must be positive")
	}
	if c.WebRTC.HoldTimeout <= 0 {
		return bad("webrtc.hold_timeout", "must be positive")
	}
	if c.WebRTC.MaxCalls < 1 {
		return bad("webrtc.max_calls", "must be at least 1")
	}
	if c.WebRTC.OffersPerMinute < 0 {
		return bad("webrtc.offers_per_minute", "must not be negative (0 turns the limit off)")
	}
	if c.WebRTC.PagePerMinute < 0 {
		return bad("webrtc.page_per_minute", "must not be negative (0 turns the limit off)")
	}
	if err := c.SIP.validate(); err != nil {
		return err
	}
	if c.SIP.Addr != "" && c.SIP.DeskURL == "" && c.HTTP.AdvertiseURL == "" {
		for i, h := range c.SIP.Handoffs {
			if h.To == "acd" {
				return fmt.Errorf("%w: sip.desk_url: needed by sip.handoffs[%d] (the transferred call carries its brief's URL); or set http.advertise_url", ErrInvalid, i)
			}
		}
	}
	if c.TTS.BaseURL == "" && c.TTS.EspeakBin == "" {
		return bad("tts.espeak_bin", "is empty and no tts.base_url is set")
	}
	// Shorter than a few seconds and an agent cannot reach the button;
	// longer than two minutes and callers wait on a desk nobody watches.
	if r := c.Desk.RingOut; r < 3*time.Second || r > 2*time.Minute {
		return bad("desk.ring_out", "%s: must be between 3s and 2m (how long an offer rings on one desk)", r)
	}
	if c.Desk.TokenTTL <= 0 {
		return bad("desk.token_ttl", "must be positive")
	}
	// Desks refresh their agent's presence every 3 s (web.PresenceRefresh):
	// a shorter grace could take an agent whose other desk is open offline.
	if g := c.Desk.ReconnectGrace; g < 0 || g > 0 && g < 6*time.Second {
		return bad("desk.reconnect_grace", "%s: must be 0 (calls go back to the queue at once) or at least 6s (twice the desks' 3 s presence refresh)", g)
	}
	switch c.VAD.Engine {
	case "auto", "silero", "energy":
	default:
		return bad("vad.engine", "%q is not auto, silero or energy", c.VAD.Engine)
	}
	if c.VAD.Threads < 1 || c.VAD.Threads > 64 {
		return bad("vad.threads", "%d is not between 1 and 64", c.VAD.Threads)
	}
	if c.VAD.PauseDecode != 0 && (c.VAD.PauseDecode < 100*time.Millisecond || c.VAD.PauseDecode >= c.VAD.Endpoint.Hangover) {
		return bad("vad.pause_decode", "%s is not 0 (off) or from 100ms up to the endpoint's hangover (%s)", c.VAD.PauseDecode, c.VAD.Endpoint.Hangover)
	}
	if err := c.VAD.Endpoint.Validate(); err != nil {
		return fmt.Errorf("%w: vad.endpoint: %w", ErrInvalid, err)
	}
	switch c.ASR.Engine {
	case "auto":
		if c.ASR.Sphinx.ModelDir == "" {
			return bad("asr.sphinx.model_dir", "is empty (auto keeps pocketsphinx for grammars and as the fallback)")
		}
		if c.ASR.OpenAI.BaseURL != "" {
			if err := c.ASR.OpenAI.validate("asr.openai"); err != nil {
				return err
			}
		} else if len(c.ASR.OpenAI.BaseURLs) > 0 {
			return bad("asr.openai.base_urls", "needs asr.openai.base_url (more local servers: asr.speechserver.count)")
		} else if c.ASR.OpenAI.Timeout <= 0 {
			return bad("asr.openai.timeout", "must be positive")
		} else if err := c.ASR.OpenAI.validSplit("asr.openai"); err != nil {
			return err
		}
		switch c.ASR.English {
		case "multilingual", "sphinx":
		default:
			return bad("asr.english", "%q is not multilingual or sphinx", c.ASR.English)
		}
		switch c.ASR.Grammars {
		case "multilingual", "sphinx":
		default:
			return bad("asr.grammars", "%q is not multilingual or sphinx", c.ASR.Grammars)
		}
		if err := c.ASR.SpeechServer.validate(); err != nil {
			return err
		}
	case "sphinx":
		if c.ASR.Sphinx.ModelDir == "" {
			return bad("asr.sphinx.model_dir", "is empty")
		}
	case "openai":
		if err := c.ASR.OpenAI.validate("asr.openai"); err != nil {
			return err
		}
	default:
		return bad("asr.engine", "%q is not auto, sphinx or openai", c.ASR.Engine)
	}
	switch c.ASR.ChineseEngine {
	case "":
	case "openai":
		if err := c.ASR.OpenAI.validate("asr.openai"); err != nil {
			return err
		}
	default:
		return bad("asr.chinese_engine", "%q is not empty or openai", c.ASR.ChineseEngine)
	}
	if c.Store.Shared() {
		// Shared state (Redis or Sentinel) needs shared secrets: with one made up per node,
		// lockouts are forgotten on restart and multiplied by the nodes.
		if c.Store.Secret == "" {
			return bad("store.secret", "required with a shared store (store.redis_addr or store.sentinel_master): every node must share it (at least 16 characters; CALLBRIEF_STORE_SECRET)")
		}
		if c.Desk.Secret == "" {
			return bad("desk.secret", "required with a shared store (store.redis_addr or store.sentinel_master): every node must share it (at least 16 characters; CALLBRIEF_DESK_SECRET)")
		}
		if c.Dev.OTPPage {
			return bad("dev.otp_page", "refused with a shared store (store.redis_addr or store.sentinel_master): the development code page shows every code sent, without sign-in")
		}
		if len(c.API.Keys) == 0 && c.API.Key == "" {
			return bad("api.keys", "required with a shared store (store.redis_addr or store.sentinel_master): no development key is made for a shared deployment")
		}
	}
	return nil
}

// checkAPIKey accepts a key of at least 24 characters or "sha256:" and 64
// hex digits; the message never repeats the key.
func checkAPIKey(k string) error {
	if h, ok := strings.CutPrefix(k, "sha256:"); ok {
		if len(h) != 64 || strings.Trim(strings.ToLower(h), "0123456789abcdef") != "" {
			return fmt.Errorf("sha256: must be followed by 64 hex digits")
		}
		return nil
	}
	if len(k) < 24 {
		return fmt.Errorf("must be at least 24 characters (or sha256:HEX of one)")
	}
	return nil
}

// RecognitionServers is how many servers recognise free speech: the
// OpenAI-compatible pool when base_url is set, else the local speech
// servers auto runs.
func (a ASR) RecognitionServers() int {
	if a.OpenAI.BaseURL != "" {
		return 1 + len(a.OpenAI.BaseURLs)
	}
	n, _ := a.SpeechServer.Servers()
	return n
}

// Servers is how many local servers to run and the threads of each: Count
// and Threads, or for 0 their defaults on this machine (one server per
// core up to 4, the cores shared among them; one server when addr names a
// fixed port, which only one can bind).
func (s SpeechServer) Servers() (count, threads int) {
	cores := runtime.GOMAXPROCS(0) // the CPUs this process may use (a container's limit), not the host's
	count = s.Count
	if count == 0 {
		count = min(max(cores, 1), 4)
		if _, port, err := net.SplitHostPort(s.Addr); err == nil && port != "0" {
			count = 1
		}
	}
	threads = s.Threads
	if threads == 0 {
		threads = max(1, cores/count)
	}
	return count, threads
}

func (s SpeechServer) validate() error {
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("%w: asr.speechserver.addr: %q is not host:port", ErrInvalid, s.Addr)
	}
	// The server has no authentication: it must not be reachable from
	// another machine.
	if ip := net.ParseIP(host); !(host == "localhost" || ip != nil && ip.IsLoopback()) {
		return fmt.Errorf("%w: asr.speechserver.addr: %q is not a loopback address (127.0.0.1, ::1 or localhost)", ErrInvalid, s.Addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%w: asr.speechserver.addr: port %q is not 0-65535", ErrInvalid, port)
	}
	if s.Threads < 0 || s.Threads > 64 {
		return fmt.Errorf("%w: asr.speechserver.threads: %d is not between 0 and 64", ErrInvalid, s.Threads)
	}
	if s.Nice < 0 || s.Nice > 19 {
		return fmt.Errorf("%w: asr.speechserver.nice: %d is not between 0 and 19", ErrInvalid, s.Nice)
	}
	if s.Count < 0 || s.Count > 8 {
		return fmt.Errorf("%w: asr.speechserver.count: %d is not 0 (one per core) or between 1 and 8", ErrInvalid, s.Count)
	}
	if s.Window != "speech" && s.Window != "30s" {
		return fmt.Errorf("%w: asr.speechserver.window: %q is not speech or 30s", ErrInvalid, s.Window)
	}
	if s.Count > 1 && port != "0" {
		return fmt.Errorf("%w: asr.speechserver.addr: port %s is fixed, but count %d servers need port 0 (each a free port)", ErrInvalid, port, s.Count)
	}
	if s.StartTimeout <= 0 {
		return fmt.Errorf("%w: asr.speechserver.start_timeout: must be positive", ErrInvalid)
	}
	return nil
}

func (o OpenAIClient) validate(prefix string) error {
	u, err := url.Parse(o.BaseURL)
	if o.BaseURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %s.base_url: %q is not an http(s) URL", ErrInvalid, prefix, o.BaseURL)
	}
	for i, b := range o.BaseURLs {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: %s.base_urls[%d]: %q is not an http(s) URL", ErrInvalid, prefix, i, b)
		}
	}
	if o.Model == "" {
		return fmt.Errorf("%w: %s.model: is empty", ErrInvalid, prefix)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("%w: %s.timeout: must be positive", ErrInvalid, prefix)
	}
	if o.Retries < 0 || o.Retries > 10 {
		return fmt.Errorf("%w: %s.retries: %d is not between 0 and 10", ErrInvalid, prefix, o.Retries)
	}
	return o.validSplit(prefix)
}

// validSplit checks split_above: 0, or long enough to leave two pieces of
// at least 4 s and no longer than the longest utterance (60 s).
func (o OpenAIClient) validSplit(prefix string) error {
	if o.SplitAbove != 0 && (o.SplitAbove < 8*time.Second || o.SplitAbove > time.Minute) {
		return fmt.Errorf("%w: %s.split_above: %s is not 0 (never) or from 8s to 1m", ErrInvalid, prefix, o.SplitAbove)
	}
	return nil
}

func (s SIP) validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, a...))
	}
	if s.Addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return bad("sip.addr", "%q is not host:port", s.Addr)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return bad("sip.addr", "%q has no numeric port", s.Addr)
	}
	for _, t := range strings.Split(s.Transports, ",") {
		if t = strings.TrimSpace(t); t != "udp" && t != "tcp" {
			return bad("sip.transports", "%q is not udp or tcp", t)
		}
	}
	media := s.MediaIP
	if media == "" {
		media = host
	}
	if ip := net.ParseIP(media); ip == nil || ip.IsUnspecified() {
		return bad("sip.media_ip", "%q is not an address callers can send RTP to (set it when sip.addr binds every interface)", media)
	}
	if s.RTPPortMin < 1024 || s.RTPPortMax > 65535 || s.RTPPortMin > s.RTPPortMax {
		return bad("sip.rtp_port_min", "%d-%d is not a port range above 1023", s.RTPPortMin, s.RTPPortMax)
	}
	if s.MaxCalls < 1 {
		return bad("sip.max_calls", "must be at least 1")
	}
	if s.SetupRate <= 0 {
		return bad("sip.setup_rate", "must be positive")
	}
	if s.SourceRate <= 0 {
		return bad("sip.source_rate", "must be positive")
	}
	if s.MaxConnections < 1 || s.MaxConnections > 1<<20 {
		return bad("sip.max_connections", "%d is not between 1 and 1048576", s.MaxConnections)
	}
	if s.FirstMessage < 100*time.Millisecond || s.FirstMessage > 10*time.Minute {
		return bad("sip.first_message", "%s is not between 100ms and 10m", s.FirstMessage)
	}
	if s.RetryAfter < time.Second {
		return bad("sip.retry_after", "must be at least 1s (Retry-After is in whole seconds)")
	}
	if s.Ring < 0 {
		return bad("sip.ring", "must not be negative")
	}
	if len(s.Trunks) == 0 {
		return bad("sip.trunks", "none configured: every call would be refused")
	}
	if s.TransferTimeout < time.Second {
		return bad("sip.transfer_timeout", "must be at least 1s")
	}
	seen := map[string]bool{}
	for _, c := range strings.Split(s.Codecs, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		switch c {
		case "pcmu", "pcma", "g722", "opus":
		default:
			return bad("sip.codecs", "%q is not PCMU, PCMA, G722 or opus", c)
		}
		if seen[c] {
			return bad("sip.codecs", "%q is given twice", c)
		}
		seen[c] = true
	}
	floor := 90 * time.Second // RFC 4028 section 4
	if s.TestShortTimers {
		floor = time.Second
	}
	if s.MinSE < floor || s.MinSE%time.Second != 0 {
		return bad("sip.min_se", "%s is not whole seconds of at least %s (RFC 4028; sip.test_short_timers lowers it for tests)", s.MinSE, floor)
	}
	if s.SessionExpires < s.MinSE || s.SessionExpires%time.Second != 0 {
		return bad("sip.session_expires", "%s is not whole seconds of at least sip.min_se (%s)", s.SessionExpires, s.MinSE)
	}
	if s.TLS.Addr != "" {
		if _, p, err := net.SplitHostPort(s.TLS.Addr); err != nil {
			return bad("sip.tls.addr", "%q is not host:port", s.TLS.Addr)
		} else if _, err := strconv.Atoi(p); err != nil {
			return bad("sip.tls.addr", "%q has no numeric port", s.TLS.Addr)
		}
		if s.TLS.Cert == "" || s.TLS.Key == "" {
			return bad("sip.tls.cert", "sip.tls.cert and sip.tls.key are required with sip.tls.addr")
		}
		if _, err := tls.LoadX509KeyPair(s.TLS.Cert, s.TLS.Key); err != nil {
			// The error names the file and what is wrong with it, never
			// the key's bytes.
			return bad("sip.tls.cert", "%v", err)
		}
	} else if s.TLS.Cert != "" || s.TLS.Key != "" {
		return bad("sip.tls.addr", "is required with sip.tls.cert and sip.tls.key")
	}
	groups := map[string]bool{}
	for i, h := range s.Handoffs {
		f := fmt.Sprintf("sip.handoffs[%d]", i)
		if h.Group == "" {
			return bad(f+".group", "is empty")
		}
		if groups[h.Group] {
			return bad(f+".group", "%q is given twice", h.Group)
		}
		groups[h.Group] = true
		switch h.To {
		case "desk":
			if h.ACD != "" {
				return bad(f+".acd", "is set but the group goes to the desk")
			}
		case "acd":
			if err := checkSIPURI(h.ACD); err != nil {
				return bad(f+".acd", "%v", err)
			}
		default:
			return bad(f+".to", "%q is not desk or acd", h.To)
		}
	}
	if s.DeskURL != "" {
		if u, err := url.Parse(s.DeskURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return bad("sip.desk_url", "%q is not an http(s) URL without query", s.DeskURL)
		}
	}
	names := map[string]bool{}
	for i, t := range s.Trunks {
		f := fmt.Sprintf("sip.trunks[%d]", i)
		if t.Name == "" {
			return bad(f+".name", "is empty")
		}
		if names[t.Name] {
			return bad(f+".name", "%q names two trunks", t.Name)
		}
		names[t.Name] = true
		if len(t.Sources) == 0 {
			return bad(f+".sources", "is empty")
		}
		for _, src := range t.Sources {
			if _, err := netip.ParsePrefix(src); err != nil {
				if _, err := netip.ParseAddr(src); err != nil {
					return bad(f+".sources", "%q is not an address or CIDR", src)
				}
			}
		}
		if t.RequireTLS && s.TLS.Addr == "" {
			return bad(f+".require_tls", "needs sip.tls.addr")
		}
		if (t.Username == "") != (t.Password == "") {
			return bad(f+".password", "username and password go together")
		}
		switch strings.ToLower(t.NumberHeader) {
		case "", "from", "p-asserted-identity", "remote-party-id":
		default:
			return bad(f+".number_header", "%q is not from, p-asserted-identity or remote-party-id", t.NumberHeader)
		}
		for num, line := range t.Numbers {
			if num == "" {
				return bad(f+".numbers", "an empty dialled number")
			}
			switch line {
			case "cmn", "yue", "en":
			default:
				return bad(f+".numbers", "%s: %q is not cmn, yue or en", num, line)
			}
		}
	}
	return nil
}

// checkSIPURI checks an ACD address: sip: or sips:, user@host[:port],
// no headers (the transfer adds its own) and nothing a header could not
// carry.
func checkSIPURI(v string) error {
	scheme, rest, ok := strings.Cut(v, ":")
	if !ok || (scheme != "sip" && scheme != "sips") {
		return fmt.Errorf("%q is not a sip: URI", v)
	}
	if strings.ContainsAny(rest, "?<> \t\r\n\"") {
		return fmt.Errorf("%q must not carry headers, brackets, quotes or spaces", v)
	}
	user, host, ok := strings.Cut(rest, "@")
	if !ok || user == "" || host == "" {
		return fmt.Errorf("%q is not sip:queue@host[:port]", v)
	}
	host, _, _ = strings.Cut(host, ";")
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || h == "" {
			return fmt.Errorf("%q has a bad port", v)
		}
	}
	return nil
}
