# callbrief: `make run` starts the service on embedded defaults, `make test`
# runs every test. Both install what they need first (scripts/setup.sh).
GO      ?= go
BIN     := bin/callbrief
ADDR    ?= 127.0.0.1:8080
FUZZTIME ?= 20s
CACHE   ?= $(or $(CALLBRIEF_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/callbrief)
SPEECH_ADDR ?= 127.0.0.1:8178
# The telephone and live-call tests: one of the two halves make test runs
# the end-to-end tests in (about half their time each).
E2E_HALF := ^(TestSIP|TestKamailio|TestLiveCall|TestDeskBridge)

.PHONY: run test test-race-e2e setup setup-test build vet fmt-check bench fuzz eval-ci eval eval-asr speechserver eval-asr-whisper clean

run: setup
	$(BIN) serve --addr $(ADDR)

setup:
	scripts/setup.sh run

setup-test:
	scripts/setup.sh test

build:
	$(GO) build -o $(BIN) ./cmd/callbrief

# The live calls of cmd/callbrief run in real time (a browser, WebRTC,
# recognition as the caller speaks), so they run after the other packages
# rather than competing with them for the cores. They run without the race
# detector: it triples their CPU (two of them: 48 s against 15 s), which on
# two cores put CI past its time, and every package they compose runs its
# own concurrency tests with -race first. So does evals, whose tests train
# and score models (73 s without the detector, 180-400 s with it).
# test-race-e2e runs both with it (before a release, and after a change to
# the composition root).
test: setup-test fmt-check vet
	@# The local speech server's own tests: Python, the real Whisper model.
	@if [ -x $(CACHE)/speechserver/venv/bin/python ]; then \
	  cd speechserver && $(CACHE)/speechserver/venv/bin/python -m unittest test_server; \
	else echo "speech server not installed (CALLBRIEF_SKIP_SPEECHSERVER): its tests are not run"; fi
	$(GO) test -count=1 -race -timeout 15m $$($(GO) list ./... | grep -v '/cmd/callbrief$$' | grep -v '/evals$$')
	@# The end-to-end tests in two halves at once, evals beside them: the
	@# end-to-end tests spend half their time waiting on real time (speech
	@# played at its pace, timers, failover). Each starts its own servers
	@# on free ports.
	$(GO) test -count=1 -timeout 20m -run '$(E2E_HALF)' ./cmd/callbrief & a=$$!; \
	$(GO) test -count=1 -timeout 15m ./evals & e=$$!; \
	$(GO) test -count=1 -timeout 20m -skip '$(E2E_HALF)' ./cmd/callbrief; b=$$?; \
	wait $$a; a=$$?; wait $$e; e=$$?; test $$a -eq 0 -a $$b -eq 0 -a $$e -eq 0
	@# Fuzzing beside the evaluation suite: the suite's gated figures are
	@# counts and accuracies, not timings; fuzz.sh prints its results at
	@# its end.
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s > .fuzz.log 2>&1 & f=$$!; \
	$(MAKE) --no-print-directory eval-ci; v=$$?; \
	wait $$f; f=$$?; cat .fuzz.log; rm -f .fuzz.log; test $$f -eq 0 -a $$v -eq 0

test-race-e2e: setup-test
	$(GO) test -count=1 -race -timeout 45m ./cmd/callbrief ./evals

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Short fuzzing runs of every parser of outside input (scripts/fuzz.sh lists them).
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

# The regression gate: the fast evaluation suite against the committed
# baseline; a drop beyond the suite's tolerances fails.
eval-ci:
	$(GO) run ./cmd/callbrief eval run data/evals/ci.yaml --out reports/eval-ci --baseline data/evals/baseline.json --gate

# The whole end-to-end audio evaluation: bin/callbrief serve started as
# `make run` starts it, every scenario of data/evals/served placed as a call
# (uploads to /v1/calls; those tagged live also over WHIP), scored per
# language against the same scenarios in text mode. SERVE_SET="k=v ..."
# overrides service keys (listed in the report); an API key, when the
# service needs one, is read from CALLBRIEF_EVAL_API_KEY.
SERVE_SET ?=
eval: setup-test
	@mkdir -p reports/eval-served
	$(BIN) eval served --bin $(BIN) --data data/evals/served --out reports/eval-served \
	  --server-log reports/eval-served/server.log $(foreach s,$(SERVE_SET),--serve-set $(s))

bench: setup-test
	$(GO) test -run='^$$' -bench=. -benchtime=2s ./media/... ./asr/... ./pipeline/...

eval-asr: setup-test
	$(BIN) eval asr --data /usr/share/pocketsphinx/test/data/librivox
	$(BIN) eval asr --data ../shared/data/speech-clips

# The optional local Whisper-base server (Mandarin and English) behind the
# OpenAI-compatible API; see speechserver/README.md.
speechserver:
	speechserver/setup.sh
	$(CACHE)/speechserver/venv/bin/python speechserver/server.py --model $(CACHE)/whisper-base --addr $(SPEECH_ADDR) --threads 2 --compute-type int8

# Needs `make speechserver` running in another terminal.
eval-asr-whisper: build
	$(BIN) eval asr --data ../shared/data/speech-clips --set asr.engine=openai \
	  --set asr.openai.base_url=http://$(SPEECH_ADDR)/v1 --set asr.openai.model=whisper-base --set asr.openai.timeout=60s

clean:
	rm -rf bin
