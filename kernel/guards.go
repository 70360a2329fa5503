package kernel

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// Two small guards on what peers send, beyond the signature check.

// replayWindow is how many recent signatures the kernel remembers; a signed
// message sent again unchanged (a replay by someone who saw it on the wire
// or in a log) is dropped, as jupyter_client's Session drops a digest it has
// seen (digest_history_size, 2^16). Not the msg_id: jupyter_client's
// KernelManager and KernelClient number their msg_ids separately under one
// session id, so two different messages may share one.
const replayWindow = 1 << 16

type replayGuard struct {
	mu   sync.Mutex
	seen map[string]struct{}
	ring []string
	next int
}

// fresh records id and reports whether it was not seen in the window.
func (r *replayGuard) fresh(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = make(map[string]struct{}, replayWindow)
		r.ring = make([]string, replayWindow)
	}
	if _, dup := r.seen[id]; dup {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.seen, old)
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % replayWindow
	r.seen[id] = struct{}{}
	return true
}

// maxLogField is how much of one string a log line carries: a peer's
// 10 MB msg_type must not become a 10 MB log line.
const maxLogField = 256

func truncField(s string) string {
	if len(s) <= maxLogField {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:maxLogField], len(s))
}

// truncatingHandler shortens every string attribute and message it logs.
type truncatingHandler struct{ slog.Handler }

func truncAttr(a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); len(s) > maxLogField {
			return slog.String(a.Key, truncField(s))
		}
	case slog.KindGroup:
		g := a.Value.Group()
		out := make([]slog.Attr, len(g))
		for i, x := range g {
			out[i] = truncAttr(x)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok && len(err.Error()) > maxLogField {
			return slog.String(a.Key, truncField(err.Error()))
		}
	}
	return a
}

func (h truncatingHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, truncField(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(truncAttr(a)); return true })
	return h.Handler.Handle(ctx, out)
}

func (h truncatingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	for i := range as {
		as[i] = truncAttr(as[i])
	}
	return truncatingHandler{h.Handler.WithAttrs(as)}
}

func (h truncatingHandler) WithGroup(name string) slog.Handler {
	return truncatingHandler{h.Handler.WithGroup(name)}
}
