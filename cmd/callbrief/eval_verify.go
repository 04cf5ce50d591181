package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/callbrief/callbrief/evals"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
	"github.com/callbrief/callbrief/store/redis"
	"github.com/callbrief/callbrief/verify/accounts"
	"github.com/callbrief/callbrief/verify/policy"
)

// cmdEvalVerify runs scripted callers (genuine, wrong answers, brute force,
// replayed code, spoofed number, emergency at night) through the
// verification policy and reports false accepts and false rejects; then,
// unless --adversarial=false, impostors through the stack `serve` builds
// from the configuration (--config, --set: the served files and store),
// for every intent by day and night, with what each could read in its
// brief. Either finding a false accept, or a leaked field, fails.
//
//	callbrief eval verify [--accounts FILE] [--policy FILE] [--redis ADDR] [--guesses N] [--adversarial] [--victims N] [--numbers N] [--out DIR] [--json]
func cmdEvalVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("eval verify", &c, stderr)
	acctPath := fs.String("accounts", "", "accounts directory file, .yaml or .json (default: the embedded demo accounts)")
	polPath := fs.String("policy", "", "verification policy file (default: the embedded default policy)")
	redisAddr := fs.String("redis", "", "run against Redis at host:port instead of the in-process store")
	guesses := fs.Int("guesses", 10000, "guesses per brute-force scenario")
	seed := fs.Uint64("seed", 1, "seed of the impostors' guesses")
	out := fs.String("out", "", "folder to write verify.json and verify.md (default: print)")
	asJSON := fs.Bool("json", false, "print JSON instead of Markdown")
	adversarial := fs.Bool("adversarial", true, "also place impostor calls through the served stack (every intent, day and night)")
	victims := fs.Int("victims", 3, "adversarial: victims per intent, time of day and attack")
	numbers := fs.Int("numbers", 30, "adversarial: calls of the many-numbers attack per intent and time of day")
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	if *guesses < 1 {
		return fmt.Errorf("%w: --guesses must be positive", errUsage)
	}
	if *victims < 1 || *numbers < 1 {
		return fmt.Errorf("%w: --victims and --numbers must be positive", errUsage)
	}
	var (
		pol *policy.Policy
		err error
	)
	if *polPath != "" {
		pol, err = policy.LoadFile(*polPath, nil)
	} else {
		pol, err = policy.Default()
	}
	if err != nil {
		return err
	}
	var accts []accounts.Account
	if *acctPath != "" {
		accts, err = accounts.LoadFile(*acctPath)
	} else {
		accts, err = accounts.DemoAccounts()
	}
	if err != nil {
		return err
	}
	run := time.Now().UnixNano()
	newStore := func(scenario string, now func() time.Time) (store.Store, error) {
		if *redisAddr == "" {
			return memory.New(memory.WithClock(now)), nil
		}
		// Redis keeps real time, so lock expiry is real too; each scenario
		// gets its own key space so that one's lockouts leave the next alone.
		s, err := redis.New(redis.Config{Addr: *redisAddr, Prefix: fmt.Sprintf("callbrief-eval:%d:%s:", run, scenario)})
		if err != nil {
			return nil, err
		}
		if err := s.Ping(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("redis at %s: %w", *redisAddr, err)
		}
		return s, nil
	}
	rep, err := evals.RunVerify(ctx, evals.VerifyConfig{
		Policy: pol, Accounts: accts, NewStore: newStore, Guesses: *guesses, Seed: *seed, Log: c.log,
	})
	if err != nil {
		return err
	}
	var adv *evals.AdversarialReport
	if *adversarial {
		if adv, err = runAdversarial(ctx, c.cfg, c.log, evals.AdversarialConfig{Victims: *victims, Numbers: *numbers, Seed: *seed}); err != nil {
			return fmt.Errorf("adversarial evaluation: %w", err)
		}
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		type report struct {
			name  string
			write func(io.Writer) error
		}
		files := []report{{"verify.json", rep.WriteJSON}, {"verify.md", rep.WriteMarkdown}}
		if adv != nil {
			files = append(files, report{"adversarial.json", adv.WriteJSON}, report{"adversarial.md", adv.WriteMarkdown})
		}
		for _, f := range files {
			if err := writeVerifyReport(filepath.Join(*out, f.name), f.write); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "wrote %s\n", filepath.Join(*out, f.name))
		}
	} else if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return err
		}
		if adv != nil {
			if err := adv.WriteJSON(stdout); err != nil {
				return err
			}
		}
	} else {
		if err := rep.WriteMarkdown(stdout); err != nil {
			return err
		}
		if adv != nil {
			fmt.Fprintln(stdout)
			if err := adv.WriteMarkdown(stdout); err != nil {
				return err
			}
		}
	}
	var fails []string
	if rep.FalseAccepts > 0 {
		fails = append(fails, fmt.Sprintf("%d false accepts of scripted callers", rep.FalseAccepts))
	}
	if adv != nil && (adv.FalseAccepts > 0 || adv.LeakedFields > 0 || adv.Errors > 0) {
		fails = append(fails, fmt.Sprintf("impostors through the served stack: %d false accepts, %d fields leaked, %d errors", adv.FalseAccepts, adv.LeakedFields, adv.Errors))
	}
	if len(fails) > 0 {
		return fmt.Errorf("verification evaluation: %s", strings.Join(fails, "; "))
	}
	return nil
}

func writeVerifyReport(path string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	return write(f)
}
