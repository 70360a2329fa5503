package kernel

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/ipclab/ipclab/kernel/engine"
)

type executeRequest struct {
	Code            string         `json:"code"`
	Silent          bool           `json:"silent"`
	StoreHistory    *bool          `json:"store_history"`
	UserExpressions map[string]any `json:"user_expressions"`
	AllowStdin      *bool          `json:"allow_stdin"`
	StopOnError     *bool          `json:"stop_on_error"`
}

type errorContent struct {
	Ename     string   `json:"ename"`
	Evalue    string   `json:"evalue"`
	Traceback []string `json:"traceback"`
}

// execute serves an execute_request on the shell channel.
func (k *kernel) execute(ch channel, m *message) {
	started := timestamp(time.Now())
	var req executeRequest
	if err := unmarshalContent(m, &req); err != nil {
		k.replyError(ch, m, "execute_reply", "BadRequest", err.Error())
		return
	}
	if m.seq <= k.abortBefore {
		// Queued behind a cell that failed with stop_on_error.
		k.log.Info("aborted an execute_request queued behind an error", "msg_id", m.header.MsgID)
		k.reply(ch, m, "execute_reply", map[string]any{"status": "aborted", "execution_count": k.count},
			map[string]any{"started": started, "status": "aborted"})
		return
	}
	blank := strings.TrimSpace(req.Code) == ""
	store := !req.Silent && (req.StoreHistory == nil || *req.StoreHistory) && !blank
	allowStdin := req.AllowStdin == nil || *req.AllowStdin
	stopOnError := req.StopOnError == nil || *req.StopOnError

	// The counter counts stored executions; others show its current value.
	if store {
		k.count++
	}
	count := k.count
	ex := k.begin(m, req.Silent, allowStdin)
	if !req.Silent {
		k.iopub.send(m, "execute_input", map[string]any{"code": req.Code, "execution_count": count})
	}
	var res engine.Result
	if !blank {
		cellCount := count
		if req.Silent {
			cellCount = 0
		}
		res = k.runCell(ex, engine.Request{Code: req.Code, Count: cellCount, Silent: req.Silent, AllowStdin: allowStdin})
	}
	k.end(ex)

	if e := res.Err; e != nil {
		ename, tb := e.Name, e.Traceback
		if ename == "" {
			ename = "Error"
		}
		if tb == nil {
			tb = []string{}
		}
		if !req.Silent {
			k.iopub.send(m, "error", errorContent{Ename: ename, Evalue: e.Value, Traceback: tb})
		}
		if stopOnError {
			// Every execute_request that arrived before this reply goes out
			// is aborted; later ones run.
			k.abortBefore = k.shellSeq.Load()
		}
		k.reply(ch, m, "execute_reply", map[string]any{
			"status": "error", "execution_count": count, "ename": ename, "evalue": e.Value, "traceback": tb,
		}, map[string]any{"started": started, "status": "error"})
	} else {
		if res.Data != nil && !req.Silent {
			md := res.Metadata
			if md == nil {
				md = map[string]any{}
			}
			k.iopub.send(m, "execute_result", map[string]any{"execution_count": count, "data": res.Data, "metadata": md})
		}
		k.reply(ch, m, "execute_reply", map[string]any{
			"status": "ok", "execution_count": count, "payload": []any{},
			"user_expressions": userExpressions(req.UserExpressions),
		}, map[string]any{"started": started, "status": "ok"})
	}
	if store {
		var out *string
		if s, ok := res.Data["text/plain"].(string); ok && res.Err == nil {
			out = &s
		}
		k.hist.add(count, req.Code, out)
	}
}

// userExpressions answers each user expression with an error: evaluating
// them would need the engine, which has no such call.
func userExpressions(exprs map[string]any) map[string]any {
	out := make(map[string]any, len(exprs))
	for name := range exprs {
		out[name] = errorReply{Status: "error", Ename: "NotImplementedError",
			Evalue: "ipclab does not evaluate user_expressions", Traceback: []string{}}
	}
	return out
}

// execution is one execute_request while and after it runs.
type execution struct {
	req         *message
	silent      bool
	allowStdin  bool
	ctx         context.Context
	cancel      context.CancelFunc
	interrupted atomic.Int64 // unix nanoseconds of the first interrupt
}

func (k *kernel) begin(m *message, silent, allowStdin bool) *execution {
	ctx, cancel := context.WithCancel(k.ctx)
	ex := &execution{req: m, silent: silent, allowStdin: allowStdin, ctx: ctx, cancel: cancel}
	k.mu.Lock()
	k.running = ex
	if !silent {
		k.last = ex
	}
	k.mu.Unlock()
	return ex
}

func (k *kernel) end(ex *execution) {
	k.mu.Lock()
	k.running = nil
	k.mu.Unlock()
	ex.cancel()
}

// runCell calls the engine, turning a panic into a cell error.
func (k *kernel) runCell(ex *execution, req engine.Request) (res engine.Result) {
	defer func() {
		if r := recover(); r != nil {
			k.log.Error("the engine panicked while executing a cell", "panic", r, "stack", string(debug.Stack()))
			res = engine.Result{Err: &engine.CellError{
				Name:      "InternalError",
				Value:     fmt.Sprintf("ipclab engine panicked: %v", r),
				Traceback: []string{fmt.Sprintf("ipclab engine panicked: %v", r), "This is a bug in ipclab; the kernel log has the stack."},
			}}
		}
	}()
	start := time.Now()
	res = k.eng.Execute(ex.ctx, req, output{k})
	if at := ex.interrupted.Load(); at != 0 {
		took := time.Since(time.Unix(0, at))
		if took > 2*time.Second {
			k.log.Warn("the engine took long to stop an interrupted cell", "after_interrupt", took)
		} else {
			k.log.Info("cell interrupted", "after_interrupt", took)
		}
	}
	k.log.Debug("cell done", "count", req.Count, "took", time.Since(start), "error", res.Err != nil)
	return res
}

// output is the kernel's engine.Output. Output goes to the running cell or,
// once it has finished, to the most recent visible execute_request, so a
// goroutine that prints after its cell ended shows up under the latest
// cell. A silent request's output is not published, as the protocol says.
type output struct{ k *kernel }

var _ engine.Output = output{}

// parent returns where output goes now; ok is false when it is dropped.
func (o output) parent() (parent *message, ok bool) {
	k := o.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if r := k.running; r != nil {
		return r.req, !r.silent
	}
	if k.last != nil {
		return k.last.req, true
	}
	return nil, true
}

func (o output) Stream(name, text string) {
	if name != "stderr" {
		name = "stdout"
	}
	if p, ok := o.parent(); ok {
		o.k.iopub.stream(p, name, text)
	}
}

func (o output) Display(data, metadata map[string]any, displayID string, update bool) {
	p, ok := o.parent()
	if !ok {
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	if metadata == nil {
		metadata = map[string]any{}
	}
	transient := map[string]any{}
	if displayID != "" {
		transient["display_id"] = displayID
	}
	msgType := "display_data"
	if update {
		if displayID == "" {
			o.k.log.Warn("update_display_data without a display id; sent as display_data")
		} else {
			msgType = "update_display_data"
		}
	}
	o.k.iopub.send(p, msgType, map[string]any{"data": data, "metadata": metadata, "transient": transient})
}

func (o output) ClearOutput(wait bool) {
	if p, ok := o.parent(); ok {
		o.k.iopub.send(p, "clear_output", map[string]any{"wait": wait})
	}
}

// Input sends an input_request on the stdin channel to the front end that
// sent the running execute_request and waits for its input_reply. It gives
// up when ctx ends, when the cell is interrupted or finishes, or at
// shutdown. Without a running cell that allows stdin it returns an error
// wrapping engine.ErrNoStdin at once.
func (o output) Input(ctx context.Context, prompt string, password bool) (string, error) {
	k := o.k
	k.mu.Lock()
	ex := k.running
	k.mu.Unlock()
	if ex == nil {
		return "", fmt.Errorf("%w: no cell is running", engine.ErrNoStdin)
	}
	if !ex.allowStdin {
		return "", engine.ErrNoStdin
	}
	select {
	case k.inputSlot <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-ex.ctx.Done():
		return "", ex.ctx.Err()
	}
	defer func() { <-k.inputSlot }()
drain:
	for {
		select {
		case <-k.inputReplies:
		default:
			break drain
		}
	}
	// The prompt belongs after the output printed before it.
	select {
	case <-k.iopub.flush():
	case <-ctx.Done():
		return "", ctx.Err()
	case <-ex.ctx.Done():
		return "", ex.ctx.Err()
	}
	frames, err := k.sign.encode(ex.req.ids, k.newHeader("input_request"), ex.req.rawHeader(), nil,
		map[string]any{"prompt": prompt, "password": password})
	if err != nil {
		return "", fmt.Errorf("encode input_request: %w", err)
	}
	if err := k.stdin.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		return "", fmt.Errorf("send input_request: %w", err)
	}
	select {
	case v := <-k.inputReplies:
		return v, nil
	case <-ctx.Done():
		return "", ctx.Err()
	case <-ex.ctx.Done():
		return "", ex.ctx.Err()
	}
}
