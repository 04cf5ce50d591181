package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
// verification policy and reports false accepts and false rejects.
//
//	callbrief eval verify [--accounts FILE] [--policy FILE] [--redis ADDR] [--guesses N] [--out DIR] [--json]
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
	if _, err := c.parse(fs, args, stderr); err != nil {
		return err
	}
	if *guesses < 1 {
		return fmt.Errorf("%w: --guesses must be positive", errUsage)
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
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		if err := writeVerifyReport(filepath.Join(*out, "verify.json"), rep.WriteJSON); err != nil {
			return err
		}
		if err := writeVerifyReport(filepath.Join(*out, "verify.md"), rep.WriteMarkdown); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s and %s\n", filepath.Join(*out, "verify.json"), filepath.Join(*out, "verify.md"))
	} else if *asJSON {
		if err := rep.WriteJSON(stdout); err != nil {
			return err
		}
	} else if err := rep.WriteMarkdown(stdout); err != nil {
		return err
	}
	if rep.FalseAccepts > 0 {
		return fmt.Errorf("verification evaluation: %d false accepts", rep.FalseAccepts)
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
