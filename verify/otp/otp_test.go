package otp

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callbrief/callbrief/store/memory"
)

type clk struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clk) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clk) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newCodes(t *testing.T) (*Codes, *clk, *memory.Store) {
	c := &clk{t: time.Unix(1_700_000_000, 0)}
	st := memory.New(memory.WithClock(c.now))
	codes, err := New(st, Config{Digits: 6, TTL: 5 * time.Minute, Attempts: 3, Secret: []byte("0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	return codes, c, st
}

func TestCodes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, c *Codes, ck *clk, code string)
	}{
		{"correct once", func(t *testing.T, c *Codes, _ *clk, code string) {
			if err := c.Check(ctx, "s", code); err != nil {
				t.Fatal(err)
			}
			if err := c.Check(ctx, "s", code); !errors.Is(err, ErrNoCode) {
				t.Fatalf("second use: %v", err)
			}
		}},
		{"other scope", func(t *testing.T, c *Codes, _ *clk, code string) {
			if err := c.Check(ctx, "other", code); !errors.Is(err, ErrNoCode) {
				t.Fatalf("other scope: %v", err)
			}
		}},
		{"expired", func(t *testing.T, c *Codes, ck *clk, code string) {
			ck.add(5*time.Minute + time.Second)
			if err := c.Check(ctx, "s", code); !errors.Is(err, ErrNoCode) {
				t.Fatalf("expired: %v", err)
			}
		}},
		{"exhausted", func(t *testing.T, c *Codes, _ *clk, code string) {
			bad := "000000"
			if code == bad {
				bad = "111111"
			}
			for i, want := range []error{ErrWrong, ErrWrong, ErrExhausted} {
				if err := c.Check(ctx, "s", bad); !errors.Is(err, want) {
					t.Fatalf("wrong answer %d: %v; want %v", i, err, want)
				}
			}
			if err := c.Check(ctx, "s", code); !errors.Is(err, ErrNoCode) {
				t.Fatalf("right code after withdrawal: %v", err)
			}
		}},
		{"concurrent single use", func(t *testing.T, c *Codes, _ *clk, code string) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			for range 16 {
				wg.Go(func() {
					if c.Check(ctx, "s", code) == nil {
						mu.Lock()
						wins++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d concurrent checks passed; want 1", wins)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ck, st := newCodes(t)
			code, err := c.Issue(ctx, "s")
			if err != nil || len(code) != 6 {
				t.Fatalf("Issue = %q, %v", code, err)
			}
			stored, _ := st.Get(ctx, "otp:code:s")
			if strings.Contains(stored, code) {
				t.Fatal("code stored in clear")
			}
			tt.run(t, c, ck, code)
		})
	}
}

func TestDevGateway(t *testing.T) {
	g := NewDevGateway(nil, 2)
	for _, to := range []string{"+8613800000001", "+8613800000002", "+8613800000003"} {
		if err := g.Send(context.Background(), to, "code "+to[len(to)-1:]); err != nil {
			t.Fatal(err)
		}
	}
	r := g.Recent()
	if len(r) != 2 || r[0].To != "138****0002" {
		t.Fatalf("Recent = %+v", r)
	}
	if txt, ok := g.LastTo("+8613800000003"); !ok || txt != "code 3" {
		t.Fatalf("LastTo = %q %v", txt, ok)
	}
	if _, ok := g.LastTo("+8613800000001"); ok {
		t.Fatal("dropped message still found")
	}
}
