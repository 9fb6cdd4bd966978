package receiver

import (
	"context"
	"fmt"
	"log/slog"
)

// maxLogValue bounds the message and each value of a receiver log line:
// much of what the receiver logs comes from outside (a change's object
// repr, a job's messages and errors), and a 900 KB line helps no one.
const maxLogValue = 8 << 10

// cappedLogger returns a logger that writes to l's handler with the
// message and every value (strings, errors, anything printed at length,
// in groups too) cut at maxLogValue bytes.
func cappedLogger(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(capHandler); ok {
		return l
	}
	return slog.New(capHandler{l.Handler()})
}

type capHandler struct{ h slog.Handler }

func (c capHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return c.h.Enabled(ctx, level)
}

func (c capHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, clip(r.Message, maxLogValue), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(capAttr(a))
		return true
	})
	return c.h.Handle(ctx, out)
}

func (c capHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	capped := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		capped[i] = capAttr(a)
	}
	return capHandler{c.h.WithAttrs(capped)}
}

func (c capHandler) WithGroup(name string) slog.Handler { return capHandler{c.h.WithGroup(name)} }

// capAttr returns a with its value capped. A value whose Error or String
// panics (a typed nil) is left as it is: slog's handler recovers from that,
// as it would without the cap.
func capAttr(a slog.Attr) (capped slog.Attr) {
	v := a.Value.Resolve()
	defer func() {
		if recover() != nil {
			capped = slog.Attr{Key: a.Key, Value: v}
		}
	}()
	switch v.Kind() {
	case slog.KindString:
		if len(v.String()) > maxLogValue {
			return slog.String(a.Key, clip(v.String(), maxLogValue))
		}
	case slog.KindGroup:
		group := v.Group()
		attrs := make([]any, len(group))
		for i, g := range group {
			attrs[i] = capAttr(g)
		}
		return slog.Group(a.Key, attrs...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			if s := x.Error(); len(s) > maxLogValue {
				return slog.String(a.Key, clip(s, maxLogValue))
			}
		case fmt.Stringer:
			if s := x.String(); len(s) > maxLogValue {
				return slog.String(a.Key, clip(s, maxLogValue))
			}
		default:
			// Printed at length only to measure: most values are small.
			if s := fmt.Sprintf("%+v", x); len(s) > maxLogValue {
				return slog.String(a.Key, clip(s, maxLogValue))
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
