package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler redacts every log record before the wrapped handler writes it:
// the message, string attributes, errors and values that print as text
// (fmt.Stringer, []string...), and integers as long as an identifier.
// Times and durations pass as they are.
type Handler struct{ h slog.Handler }

// NewHandler wraps h.
func NewHandler(h slog.Handler) *Handler { return &Handler{h: h} }

// Enabled implements slog.Handler.
func (r *Handler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (r *Handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, String(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (r *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = attr(a)
	}
	return &Handler{h: r.h.WithAttrs(red)}
}

// WithGroup implements slog.Handler.
func (r *Handler) WithGroup(name string) slog.Handler { return &Handler{h: r.h.WithGroup(name)} }

func attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, String(v.String()))
	case slog.KindInt64, slog.KindUint64:
		// A number as large as a phone or card number is checked like one.
		if txt := v.String(); len(txt) >= 10 {
			if red := String(txt); red != txt {
				return slog.String(a.Key, red)
			}
		}
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, x := range g {
			red[i] = attr(x)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, String(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, String(x.String()))
		case []string, []any, map[string]string, map[string]any:
			return slog.String(a.Key, String(fmt.Sprint(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
