package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "callbrief.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLayering(t *testing.T) {
	p := write(t, "http:\n  addr: 0.0.0.0:9000\nvad:\n  endpoint:\n    hangover: 800ms\nasr:\n  engine: openai\n  openai:\n    base_url: http://asr.internal/v1\n")
	c, err := Load(p, []string{"CALLBRIEF_ASR_OPENAI_MODEL=sensevoice", "PATH=/bin", "CALLBRIEF_HTTP_ADDR=0.0.0.0:9100"}, []string{"http.addr=127.0.0.1:9200"})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:9200" {
		t.Errorf("flag must win over env and file: addr %q", c.HTTP.Addr)
	}
	if c.ASR.OpenAI.Model != "sensevoice" || c.ASR.OpenAI.BaseURL != "http://asr.internal/v1" {
		t.Errorf("env and file: %+v", c.ASR.OpenAI)
	}
	if c.VAD.Endpoint.Hangover != 800*time.Millisecond {
		t.Errorf("hangover %v", c.VAD.Endpoint.Hangover)
	}
	if c.VAD.Endpoint.MinSpeech != Default().VAD.Endpoint.MinSpeech {
		t.Errorf("defaults must survive a partial file")
	}
}

func TestErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env, flags []string
		want       string
	}{
		{"unknown yaml key", "asr:\n  engin: sphinx\n", nil, nil, "engin"},
		{"bad yaml", "asr: [\n", nil, nil, "invalid"},
		{"bad duration in yaml", "vad:\n  endpoint:\n    hangover: soon\n", nil, nil, "line 3"},
		{"unknown engine", "asr:\n  engine: kaldi\n", nil, nil, "asr.engine"},
		{"openai without url", "asr:\n  engine: openai\n", nil, nil, "asr.openai.base_url"},
		{"unknown env", "", []string{"CALLBRIEF_NOPE=1"}, nil, "CALLBRIEF_NOPE"},
		{"bad env int", "", []string{"CALLBRIEF_VAD_THREADS=many"}, nil, "vad.threads"},
		{"unknown flag key", "", nil, []string{"asr.nope=1"}, "asr.nope"},
		{"flag not key=value", "", nil, []string{"asr.engine"}, "key=value"},
		{"vad threshold", "", nil, []string{"vad.endpoint.threshold=2"}, "threshold"},
		{"log level", "", nil, []string{"log.level=loud"}, "log.level"},
		{"hold timeout", "", nil, []string{"webrtc.hold_timeout=0s"}, "webrtc.hold_timeout"},
		{"turn secret without turn", "", nil, []string{"webrtc.turn_secret=s"}, "webrtc.turn_secret"},
		{"turn secret and password", "", nil, []string{"webrtc.turn=turn:t.example.net", "webrtc.turn_secret=s", "webrtc.turn_credential=p"}, "webrtc.turn_secret"},
		{"turn ttl", "", nil, []string{"webrtc.turn_ttl=0s"}, "webrtc.turn_ttl"},
		{"reconnect grace", "", nil, []string{"desk.reconnect_grace=-1s"}, "desk.reconnect_grace"},
		{"reconnect grace under the refresh", "", nil, []string{"desk.reconnect_grace=2s"}, "at least 6s"},
		{"ring-out too short", "", nil, []string{"desk.ring_out=1s"}, "desk.ring_out"},
		{"ring-out too long", "", nil, []string{"desk.ring_out=10m"}, "between 3s and 2m"},
		{"advertise url not a url", "", nil, []string{"http.advertise_url=10.0.0.5:8080", "store.redis_addr=127.0.0.1:6379"}, "http.advertise_url"},
		{"auto english", "", nil, []string{"asr.english=whisper"}, "asr.english"},
		{"auto grammars", "", nil, []string{"asr.grammars=none"}, "asr.grammars"},
		{"speech server not loopback", "", nil, []string{"asr.speechserver.addr=0.0.0.0:8178"}, "not a loopback"},
		{"speech server addr", "", nil, []string{"asr.speechserver.addr=8178"}, "asr.speechserver.addr"},
		{"speech server port", "", nil, []string{"asr.speechserver.addr=127.0.0.1:99999"}, "asr.speechserver.addr"},
		{"speech server threads", "", nil, []string{"asr.speechserver.threads=-1"}, "asr.speechserver.threads"},
		{"speech server window", "", nil, []string{"asr.speechserver.window=10s"}, "asr.speechserver.window"},
		{"speech server nice", "", nil, []string{"asr.speechserver.nice=20"}, "asr.speechserver.nice"},
		{"speech server nice negative", "", nil, []string{"asr.speechserver.nice=-1"}, "asr.speechserver.nice"},
		{"refine wait", "", nil, []string{"intent.refine_wait=-1s"}, "intent.refine_wait"},
		{"sip connection cap", "", nil, []string{"sip.addr=127.0.0.1:5060", "sip.max_connections=0"}, "sip.max_connections"},
		{"sip first message", "", nil, []string{"sip.addr=127.0.0.1:5060", "sip.first_message=1ms"}, "sip.first_message"},
		{"speech server start timeout", "", nil, []string{"asr.speechserver.start_timeout=0s"}, "asr.speechserver.start_timeout"},
		{"auto with a bad url", "", nil, []string{"asr.openai.base_url=ftp://x"}, "asr.openai.base_url"},
		{"speech server count", "", nil, []string{"asr.speechserver.count=-1"}, "asr.speechserver.count"},
		{"split too short", "", nil, []string{"asr.openai.split_above=5s"}, "asr.openai.split_above"},
		{"split past the longest turn", "", nil, []string{"asr.openai.split_above=2m"}, "asr.openai.split_above"},
		{"speech server count past 8", "", nil, []string{"asr.speechserver.count=9"}, "asr.speechserver.count"},
		{"speech servers on one fixed port", "", nil, []string{"asr.speechserver.count=2", "asr.speechserver.addr=127.0.0.1:8178"}, "need port 0"},
		{"more servers without the first", "", nil, []string{"asr.openai.base_urls=http://127.0.0.1:9001/v1"}, "asr.openai.base_urls"},
		{"a bad pooled url", "", nil, []string{"asr.openai.base_url=http://127.0.0.1:9000/v1", "asr.openai.base_urls=http://127.0.0.1:9001/v1,ftp://x"}, "asr.openai.base_urls[1]"},
		{"advertise url without redis", "", nil, []string{"http.advertise_url=http://10.0.0.5:8080"}, "needs store.redis_addr"},
		{"sentinel master without addresses", "", nil, []string{"store.sentinel_master=callbrief"}, "store.sentinel_addrs go together"},
		{"sentinel address not host:port", "", nil, []string{"store.sentinel_master=callbrief", "store.sentinel_addrs=127.0.0.1:26379,sentinel2"}, "store.sentinel_addrs"},
		// Shared state needs shared secrets: no random secret per node.
		{"redis without store secret", "", nil, []string{"store.redis_addr=127.0.0.1:6379"}, "store.secret: required with a shared store"},
		{"redis without desk secret", "", []string{"CALLBRIEF_STORE_SECRET=0123456789abcdef"}, []string{"store.redis_addr=127.0.0.1:6379"}, "desk.secret: required with a shared store"},
		{"redis with the code page", "", []string{"CALLBRIEF_STORE_SECRET=0123456789abcdef", "CALLBRIEF_DESK_SECRET=0123456789abcdef", "CALLBRIEF_API_KEY=0123456789abcdef0123456789"}, []string{"store.redis_addr=127.0.0.1:6379", "dev.otp_page=true"}, "dev.otp_page: refused with a shared store"},
		{"redis without api keys", "", []string{"CALLBRIEF_STORE_SECRET=0123456789abcdef", "CALLBRIEF_DESK_SECRET=0123456789abcdef"}, []string{"store.redis_addr=127.0.0.1:6379"}, "api.keys: required"},
		{"short api key", "", nil, []string{"api.key=short"}, "api.key: must be at least 24"},
		{"sms provider without url", "", []string{"CALLBRIEF_SMS_TOKEN=abcdefgh12"}, []string{"sms.gateway=http"}, "sms.url"},
		{"sms provider in the clear", "", []string{"CALLBRIEF_SMS_TOKEN=abcdefgh12"}, []string{"sms.gateway=http", "sms.url=http://sms.example.com/send"}, "sms.url"},
		{"sms provider without token", "", nil, []string{"sms.gateway=http", "sms.url=https://sms.example.com/send"}, "sms.token"},
		{"sms provider and the code page", "", []string{"CALLBRIEF_SMS_TOKEN=abcdefgh12"}, []string{"sms.gateway=http", "sms.url=https://sms.example.com/send", "dev.otp_page=true"}, "dev.otp_page"},
		{"unknown sms gateway", "", nil, []string{"sms.gateway=carrier"}, "sms.gateway"},
		{"api key scope", "api:\n  keys: [{name: ops, key: 0123456789abcdef0123456789, scopes: [admin]}]\n", nil, nil, "api.keys[0].scopes"},
		{"sms gateway", "", nil, []string{"sms.gateway=carrier-pigeon"}, "sms.gateway"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ""
			if tc.file != "" {
				p = write(t, tc.file)
			}
			_, err := Load(p, tc.env, tc.flags)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error naming %q, got %v", tc.want, err)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestErrorsNeverRepeatKeys: a bad API key is named by its field, never
// shown.
func TestErrorsNeverRepeatKeys(t *testing.T) {
	const key = "tooshort-secret"
	_, err := Load("", nil, []string{"api.key=" + key})
	if err == nil || strings.Contains(err.Error(), key) {
		t.Fatalf("error %v repeats the key", err)
	}
}

// TestPooledServers: more recognition servers, as a list in YAML or comma
// separated in a flag or the environment.
func TestPooledServers(t *testing.T) {
	c, err := Load("", []string{"CALLBRIEF_ASR_SPEECHSERVER_COUNT=3"}, []string{"asr.openai.base_url=http://127.0.0.1:9000/v1", "asr.openai.base_urls=http://127.0.0.1:9001/v1, http://127.0.0.1:9002/v1,"})
	if err != nil || c.ASR.SpeechServer.Count != 3 || len(c.ASR.OpenAI.BaseURLs) != 2 || c.ASR.OpenAI.BaseURLs[1] != "http://127.0.0.1:9002/v1" {
		t.Fatalf("%+v %v", c.ASR, err)
	}
	c, err = Load(write(t, "asr:\n  openai: {base_url: 'http://127.0.0.1:9000/v1', base_urls: ['http://127.0.0.1:9001/v1']}\n"), nil, nil)
	if err != nil || len(c.ASR.OpenAI.BaseURLs) != 1 {
		t.Fatalf("yaml: %+v %v", c.ASR.OpenAI, err)
	}
	cores := runtime.GOMAXPROCS(0)
	if n, th := Default().ASR.SpeechServer.Servers(); n != min(cores, 4) || th != max(1, cores/n) {
		t.Fatalf("default: %d servers of %d threads on %d cores; want one per core (at most 4), the cores shared", n, th, cores)
	}
	ss := Default().ASR.SpeechServer
	ss.Addr = "127.0.0.1:8178"
	if n, _ := ss.Servers(); n != 1 {
		t.Fatalf("a fixed port: %d servers by default, want 1 (only one can bind it)", n)
	}
	ss.Count, ss.Threads = 2, 3
	if n, th := ss.Servers(); n != 2 || th != 3 {
		t.Fatalf("set: %d servers of %d threads, want 2 of 3", n, th)
	}
}

func TestRedisWithSecretsValid(t *testing.T) {
	env := []string{"CALLBRIEF_STORE_SECRET=0123456789abcdef", "CALLBRIEF_DESK_SECRET=0123456789abcdef", "CALLBRIEF_API_KEY=0123456789abcdef0123456789"}
	if _, err := Load("", env, []string{"store.redis_addr=127.0.0.1:6379"}); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	if a := Default().ASR; a.Engine != "auto" || a.English != "multilingual" || a.Grammars != "sphinx" || a.SpeechServer.Addr != "127.0.0.1:0" {
		t.Fatalf("default asr: %+v; want auto, Whisper for English, grammars on sphinx, a free loopback port", a)
	}
	for _, ok := range []string{"[::1]:8178", "localhost:8178", "127.0.0.2:0"} {
		if _, err := Load("", nil, []string{"asr.speechserver.addr=" + ok}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if len(Keys()) < 10 {
		t.Fatalf("keys: %v", Keys())
	}
}

func TestOverrides(t *testing.T) {
	if o := Overrides(Default()); len(o) != 0 {
		t.Fatalf("defaults report overrides %v", o)
	}
	c := Default()
	c.ASR.Engine = "openai"
	c.Store.Secret = "a-very-long-shared-secret"
	got := strings.Join(Overrides(c), " ")
	if !strings.Contains(got, "asr.engine=openai") || !strings.Contains(got, "store.secret=(set)") || strings.Contains(got, "a-very-long") {
		t.Fatalf("Overrides = %q", got)
	}
}

// TestSentinelNeedsSecrets: a Sentinel group is shared state too.
func TestSentinelNeedsSecrets(t *testing.T) {
	_, err := Load("", nil, []string{"store.sentinel_master=callbrief", "store.sentinel_addrs=127.0.0.1:26379"})
	if err == nil || !strings.Contains(err.Error(), "store.secret") {
		t.Fatalf("want store.secret named, got %v", err)
	}
}
