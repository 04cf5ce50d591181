// Command callbrief is the voice front-end of a customer-service hotline:
// it listens to callers, transcribes, classifies and verifies them, and
// hands each call to an agent with a brief.
//
//	callbrief serve                      run the service (health, metrics, calls)
//	callbrief transcribe FILE.wav        print the final segments of a recording
//	callbrief eval asr --data DIR        WER/CER, real-time factor and latency
//	callbrief models fetch|verify|list   the model cache
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/callbrief/callbrief/config"
	"github.com/callbrief/callbrief/internal/redact"
)

const usage = `callbrief: the voice front-end of a customer-service hotline

Usage:
  callbrief serve [flags]                      run the service
  callbrief transcribe [flags] FILE.wav        transcribe a recording
  callbrief call FILE.wav --caller NUMBER [--scenario FILE] [--json]
                                               run a whole call offline and print the brief
  callbrief eval run SUITE.yaml [--baseline F] [--gate] [--out DIR]
                                               every evaluation of a suite: report.json + report.html
  callbrief eval scenarios [--mode text|audio|both]  end-to-end call scenarios
  callbrief eval served [--bin PATH] [--mode upload|live|both]
                                               calls through the real service, audio in, brief out
  callbrief eval asr --data DIR [flags]        evaluate speech recognition
  callbrief eval intent --dataset banking77    intent accuracy, macro-F1, OOS, confusions, latency
              (or --train FILE --test FILE, or --data DIR)
  callbrief eval dialect [flags]               language and Chinese-variety accuracy
  callbrief eval verify [flags]                scripted callers through verification
  callbrief eval retrieval [flags]             KB recall@k, MRR, nDCG, latency per embedder
  callbrief kb ingest DIR | kb search "QUERY"  build or query the knowledge base
  callbrief models fetch|verify|list|train     manage the model cache; train the intent model
  callbrief config keys                        list configuration keys
  callbrief loadtest --target URL [--ramp 1,2,4,8 --step 30s] [--calls N] [--fault kill-redis@30s]
                                               bounded load on running nodes: latency, refusals, memory

Common flags (every command):
  --config FILE     YAML configuration (unknown keys are errors)
  --set KEY=VALUE   override one key, e.g. --set asr.engine=openai (repeatable)
Environment: CALLBRIEF_<KEY> with dots as underscores, e.g. CALLBRIEF_HTTP_ADDR.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command line mistake (exit code 2).
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "transcribe":
		err = cmdTranscribe(ctx, args[1:], stdout, stderr)
	case "call":
		err = cmdCall(ctx, args[1:], stdout, stderr)
	case "kb":
		err = cmdKB(ctx, args[1:], stdout, stderr)
	case "eval":
		err = cmdEvalDispatch(ctx, args[1:], stdout, stderr)
	case "models":
		err = cmdModels(ctx, args[1:], stdout, stderr)
	case "config":
		err = cmdConfig(args[1:], stdout)
	case "loadtest":
		err = cmdLoadtest(ctx, args[1:], stdout, stderr)
	default:
		err = fmt.Errorf("%w: unknown command %q (see callbrief --help)", errUsage, args[0])
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "callbrief: %v\n", err)
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// common holds the flags every command takes.
type common struct {
	configPath string
	sets       multiFlag
	cfg        config.Config
	log        *slog.Logger
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newFlagSet(name string, c *common, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.configPath, "config", "", "YAML configuration file")
	fs.Var(&c.sets, "set", "override a configuration key: KEY=VALUE (repeatable)")
	return fs
}

// parse parses flags (allowing them after positional arguments) and loads
// the configuration.
func (c *common) parse(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	cfg, err := config.Load(c.configPath, os.Environ(), c.sets)
	if err != nil {
		return nil, err
	}
	c.cfg = cfg
	c.log = newLogger(cfg.Log, stderr)
	return pos, nil
}

func newLogger(l config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level))
	opts := &slog.HandlerOptions{Level: level}
	// Every line passes through redaction: phone, ID, card and IMEI
	// numbers and emails become tags, whatever code logged them.
	if l.Format == "json" {
		return slog.New(redact.NewHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(redact.NewHandler(slog.NewTextHandler(w, opts)))
}

func cmdConfig(args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "keys" {
		return fmt.Errorf("%w: callbrief config keys", errUsage)
	}
	for _, k := range config.Keys() {
		fmt.Fprintf(stdout, "%s\tCALLBRIEF_%s\n", k, strings.ToUpper(strings.ReplaceAll(k, ".", "_")))
	}
	return nil
}

// cmdEvalDispatch picks the evaluation: every model is measured on the
// evaluator's own labelled data.
func cmdEvalDispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: callbrief eval run|asr|intent|dialect|verify|retrieval|scenarios|served [flags]", errUsage)
	}
	switch args[0] {
	case "asr":
		return cmdEval(ctx, args, stdout, stderr)
	case "verify":
		return cmdEvalVerify(ctx, args[1:], stdout, stderr)
	case "intent":
		return cmdEvalIntent(ctx, args[1:], stdout, stderr)
	case "dialect":
		return cmdEvalDialect(ctx, args[1:], stdout, stderr)
	case "retrieval":
		return cmdEvalRetrieval(ctx, args[1:], stdout, stderr)
	case "run":
		return cmdEvalRun(ctx, args[1:], stdout, stderr)
	case "scenarios":
		return cmdEvalScenarios(ctx, args[1:], stdout, stderr)
	case "served":
		return cmdEvalServed(ctx, args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown evaluation %q (run, asr, intent, dialect, verify, retrieval, scenarios, served)", errUsage, args[0])
}
