package evals

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress draws a bar for a long evaluation on the progress writer. A
// nil *Progress does nothing, so runners can call it unconditionally.
type Progress struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	total int
	n     int
	last  time.Time
	drawn bool
}

// Start sets how many items the evaluation will process.
func (p *Progress) Start(total int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.n = total, 0
}

// Tick records one item done. The bar is redrawn at most every 200 ms so
// that a fast loop spends no time on the terminal.
func (p *Progress) Tick() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	if p.total <= 0 || (time.Since(p.last) < 200*time.Millisecond && p.n < p.total) {
		return
	}
	p.last = time.Now()
	const width = 30
	filled := width * p.n / p.total
	fmt.Fprintf(p.w, "\r      [%s%s] %d/%d %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.n, p.total, p.label)
	p.drawn = true
}

// done ends the bar's line.
func (p *Progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
