# callbrief: `make run` starts the service on embedded defaults, `make test`
# runs every test. Both install what they need first (scripts/setup.sh).
GO      ?= go
BIN     := bin/callbrief
ADDR    ?= 127.0.0.1:8080
FUZZTIME ?= 20s

.PHONY: run test setup setup-test build vet fmt-check bench fuzz eval-asr clean

run: setup
	$(BIN) serve --addr $(ADDR)

setup:
	scripts/setup.sh run

setup-test:
	scripts/setup.sh test

build:
	$(GO) build -o $(BIN) ./cmd/callbrief

test: setup-test fmt-check vet
	$(GO) test -count=1 -race -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=10s

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# Short fuzzing runs of every parser of outside input.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzReadWAV$$' -fuzztime=$(FUZZTIME) ./media
	$(GO) test -run='^$$' -fuzz='^FuzzParseASRTSV$$' -fuzztime=$(FUZZTIME) ./evals

bench: setup-test
	$(GO) test -run='^$$' -bench=. -benchtime=2s ./media/... ./asr/... ./pipeline/...

eval-asr: setup-test
	$(BIN) eval asr --data /usr/share/pocketsphinx/test/data/librivox
	$(BIN) eval asr --data ../shared/data/speech-clips

clean:
	rm -rf bin
