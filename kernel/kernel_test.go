package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/ipclab/ipclab/kernel/testdata/fakeengine"
)

func TestKernelInfoOnShellAndControl(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	for _, sock := range []string{"shell", "control"} {
		t.Run(sock, func(t *testing.T) {
			k := k.with(t)
			id := k.send(sock, "kernel_info_request", map[string]any{})
			c := k.reply(sock, id, "kernel_info_reply")
			if c["status"] != "ok" || c["protocol_version"] != protocolVersion || c["implementation"] != "ipclab" || c["implementation_version"] != "test" {
				t.Errorf("kernel_info_reply = %v", c)
			}
			li := c["language_info"].(map[string]any)
			want := map[string]any{"name": "go", "mimetype": "text/x-go", "file_extension": ".go", "pygments_lexer": "go", "codemirror_mode": "go"}
			for key, v := range want {
				if li[key] != v {
					t.Errorf("language_info[%s] = %v, want %v", key, li[key], v)
				}
			}
			if v, _ := li["version"].(string); !strings.HasPrefix(v, "1.") {
				t.Errorf("language_info.version = %q", v)
			}
			if links, _ := c["help_links"].([]any); len(links) < 2 {
				t.Errorf("help_links = %v", c["help_links"])
			}
			if c["banner"] == "" || c["debugger"] != false {
				t.Errorf("banner %q, debugger %v", c["banner"], c["debugger"])
			}
			if msgs := k.iopubFor(id); types(msgs) != "status,status" {
				t.Errorf("iopub for kernel_info: %s", types(msgs))
			}
			other := map[string]string{"shell": "control", "control": "shell"}[sock]
			k.expectNone(other, 100*time.Millisecond)
		})
	}
}

func TestSignatures(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	wrong, _ := newSigner("hmac-sha256", "not the key")
	tests := []struct {
		name   string
		frames func() [][]byte
	}{
		{"wrong key", func() [][]byte {
			f, _ := k.frames("kernel_info_request", map[string]any{}, wrong)
			return f
		}},
		{"missing signature", func() [][]byte {
			f, _ := k.frames("kernel_info_request", map[string]any{}, k.sign)
			f[1] = nil
			return f
		}},
		{"not hex", func() [][]byte {
			f, _ := k.frames("kernel_info_request", map[string]any{}, k.sign)
			f[1] = []byte(strings.Repeat("zz", 32))
			return f
		}},
		{"tampered content", func() [][]byte {
			f, _ := k.frames("comm_info_request", map[string]any{}, k.sign)
			f[5] = []byte(`{"target_name": "x"}`)
			return f
		}},
		{"signature of another message", func() [][]byte {
			f, _ := k.frames("kernel_info_request", map[string]any{}, k.sign)
			g, _ := k.frames("kernel_info_request", map[string]any{}, k.sign)
			f[1] = g[1]
			return f
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := k.with(t)
			k.sendFrames("shell", tt.frames())
			k.expectNone("shell", 300*time.Millisecond)
			k.expectNone("iopub", 10*time.Millisecond) // not even busy
			id := k.send("shell", "kernel_info_request", map[string]any{})
			k.reply("shell", id, "kernel_info_reply")
			k.iopubFor(id)
		})
	}
	if !strings.Contains(k.logs.String(), "level=WARN msg=\"dropped a message with a bad signature\"") {
		t.Errorf("bad signatures were not logged as warnings:\n%s", k.logs)
	}
}

func TestEmptyKeyMeansNoSigning(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "")
	frames, id := k.frames("kernel_info_request", map[string]any{}, k.sign)
	if len(frames[1]) != 0 {
		t.Fatalf("client signed with an empty key: %q", frames[1])
	}
	k.sendFrames("shell", frames)
	k.reply("shell", id, "kernel_info_reply")
	// A signature is ignored too.
	other, _ := newSigner("hmac-sha256", "whatever")
	frames, id = k.frames("kernel_info_request", map[string]any{}, other)
	k.sendFrames("shell", frames)
	k.reply("shell", id, "kernel_info_reply")
}

func TestRepliesAreSigned(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	id := k.send("shell", "kernel_info_request", map[string]any{})
	// The client decodes with the key, so a reply at all proves its
	// signature; check the frame is a sha256 hex digest as well.
	m := k.recv("shell")
	if parentID(m) != id {
		t.Fatal("wrong parent")
	}
	frames, err := k.sign.encode(m.ids, m.header, m.parts[1], json.RawMessage(m.parts[2]), json.RawMessage(m.parts[3]))
	if err != nil {
		t.Fatal(err)
	}
	if len(frames[len(m.ids)+1]) != 64 {
		t.Errorf("signature %q is not 64 hex digits", frames[len(m.ids)+1])
	}
}

func TestMalformedMessagesAreDropped(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	signed := func(parts ...string) [][]byte {
		p := make([][]byte, len(parts))
		for i := range parts {
			p[i] = []byte(parts[i])
		}
		return append([][]byte{[]byte(delimiter), k.sign.sign(p)}, p...)
	}
	hdr := `{"msg_id":"1","session":"s","username":"u","date":"","msg_type":"kernel_info_request","version":"5.3"}`
	tests := map[string][][]byte{
		"no delimiter":        {[]byte("hello")},
		"binary junk":         {{0xff, 0x00, 0x01}, {0x80}},
		"too few frames":      {[]byte(delimiter), []byte("sig"), []byte("{}")},
		"header not JSON":     signed(`{"msg_id":`, `{}`, `{}`, `{}`),
		"header not object":   signed(`["kernel_info_request"]`, `{}`, `{}`, `{}`),
		"header null":         signed(`null`, `{}`, `{}`, `{}`),
		"no msg_type":         signed(`{"msg_id":"1"}`, `{}`, `{}`, `{}`),
		"msg_type not string": signed(`{"msg_id":"1","msg_type":7}`, `{}`, `{}`, `{}`),
		"parent not object":   signed(hdr, `[]`, `{}`, `{}`),
		"content not object":  signed(hdr, `{}`, `{}`, `"x"`),
		"content bad JSON":    signed(hdr, `{}`, `{}`, `{"a":`),
	}
	for name, frames := range tests {
		t.Run(name, func(t *testing.T) {
			k := k.with(t)
			k.sendFrames("shell", frames)
			k.sendFrames("control", frames)
			k.expectNone("shell", 100*time.Millisecond)
			k.expectNone("control", 10*time.Millisecond)
		})
	}
	// A request whose content has the wrong types gets an error reply.
	id := k.send("shell", "execute_request", map[string]any{"code": 42})
	if c := k.reply("shell", id, "execute_reply"); c["status"] != "error" || c["ename"] != "BadRequest" {
		t.Errorf("execute_request with code 42: %v", c)
	}
	k.iopubFor(id)
	id = k.send("control", "kernel_info_request", map[string]any{})
	k.reply("control", id, "kernel_info_reply")
	if !strings.Contains(k.logs.String(), "dropped a malformed message") {
		t.Error("malformed messages were not logged")
	}
}

func TestExecute(t *testing.T) {
	eng := &fakeengine.Engine{}
	k := startKernel(t, eng, "secret")
	id := k.execute("print hello\neprint oops\nresult 42", nil)
	reply := k.reply("shell", id, "execute_reply")
	if reply["status"] != "ok" || reply["execution_count"] != 1.0 {
		t.Errorf("reply = %v", reply)
	}
	msgs := k.iopubFor(id)
	if got, want := types(msgs), "status,execute_input,stream,stream,execute_result,status"; got != want {
		t.Fatalf("iopub = %s, want %s", got, want)
	}
	if c := contentOf(t, msgs[1]); c["code"] != "print hello\neprint oops\nresult 42" || c["execution_count"] != 1.0 {
		t.Errorf("execute_input = %v", c)
	}
	if c := contentOf(t, msgs[2]); c["name"] != "stdout" || c["text"] != "hello\n" {
		t.Errorf("first stream = %v", c)
	}
	if c := contentOf(t, msgs[3]); c["name"] != "stderr" || c["text"] != "oops\n" {
		t.Errorf("second stream = %v", c)
	}
	c := contentOf(t, msgs[4])
	if c["execution_count"] != 1.0 || c["data"].(map[string]any)["text/plain"] != "42" {
		t.Errorf("execute_result = %v", c)
	}
	if req := eng.LastRequest.Load(); req.Count != 1 || !req.AllowStdin || req.Silent {
		t.Errorf("engine got %+v", req)
	}
	if reply, _ := k.run("print again", nil); reply["execution_count"] != 2.0 {
		t.Errorf("second cell's count = %v", reply["execution_count"])
	}
}

func TestDisplayUpdateClear(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	_, msgs := k.run("display text/html <b>hi</b>\nshow p1 0%\nupdate p1 100%\nclear", nil)
	if got, want := types(msgs), "execute_input,display_data,display_data,update_display_data,clear_output"; got != want {
		t.Fatalf("iopub = %s, want %s", got, want)
	}
	c := contentOf(t, msgs[1])
	if c["data"].(map[string]any)["text/html"] != "<b>hi</b>" {
		t.Errorf("display_data = %v", c)
	}
	if _, ok := c["metadata"].(map[string]any); !ok {
		t.Errorf("display_data has no metadata object: %v", c)
	}
	if !strings.Contains(string(msgs[1].content()), "<b>hi</b>") {
		t.Errorf("HTML was escaped on the wire: %s", msgs[1].content())
	}
	for i, want := range map[int]string{2: "0%", 3: "100%"} {
		c := contentOf(t, msgs[i])
		if c["transient"].(map[string]any)["display_id"] != "p1" || c["data"].(map[string]any)["text/plain"] != want {
			t.Errorf("%s = %v", msgs[i].header.MsgType, c)
		}
	}
	if c := contentOf(t, msgs[4]); c["wait"] != false {
		t.Errorf("clear_output = %v", c)
	}
}

func TestErrorAndStopOnError(t *testing.T) {
	for _, stop := range []bool{true, false} {
		t.Run(fmt.Sprintf("stop_on_error=%v", stop), func(t *testing.T) {
			eng := &fakeengine.Engine{Gate: make(chan struct{})}
			k := startKernel(t, eng, "secret")
			failing := k.execute("gate\npanic boom", map[string]any{"stop_on_error": stop})
			queued1 := k.execute("print two", nil)
			queued2 := k.execute("print three", map[string]any{"stop_on_error": false})
			// Both queued requests are on the wire before the gate opens;
			// on loopback they reach the kernel in microseconds.
			time.Sleep(200 * time.Millisecond)
			close(eng.Gate)

			r := k.reply("shell", failing, "execute_reply")
			if r["status"] != "error" || r["ename"] != "panic" || r["evalue"] != "boom" || r["execution_count"] != 1.0 {
				t.Errorf("failing reply = %v", r)
			}
			if tb, _ := r["traceback"].([]any); len(tb) != 2 || !strings.Contains(tb[1].(string), "cell 1, line 2") {
				t.Errorf("traceback = %v", r["traceback"])
			}
			msgs := k.iopubFor(failing)
			if got := types(msgs); got != "status,execute_input,error,status" {
				t.Fatalf("iopub = %s", got)
			}
			if c := contentOf(t, msgs[2]); c["ename"] != "panic" || c["evalue"] != "boom" {
				t.Errorf("error message = %v", c)
			}
			for _, id := range []string{queued1, queued2} {
				r := k.reply("shell", id, "execute_reply")
				msgs := k.iopubFor(id)
				if stop {
					if r["status"] != "aborted" || types(msgs) != "status,status" {
						t.Errorf("queued request: reply %v, iopub %s; want aborted with busy/idle only", r, types(msgs))
					}
				} else if r["status"] != "ok" {
					t.Errorf("queued request with stop_on_error=false before: %v", r)
				}
			}
			// Requests sent after the error reply run.
			r, msgs = k.run("print four", nil)
			if r["status"] != "ok" || streamText(t, msgs, "stdout") != "four\n" {
				t.Errorf("after the error: %v %s", r, types(msgs))
			}
			want := 2.0
			if !stop {
				want = 4
			}
			if r["execution_count"] != want {
				t.Errorf("execution_count = %v, want %v (aborted cells are not counted)", r["execution_count"], want)
			}
		})
	}
}

func TestSilentAndStoreHistory(t *testing.T) {
	eng := &fakeengine.Engine{}
	k := startKernel(t, eng, "secret")
	r, msgs := k.run("print hidden\nresult 1", map[string]any{"silent": true})
	if r["status"] != "ok" || r["execution_count"] != 0.0 || len(msgs) != 0 {
		t.Errorf("silent: reply %v, iopub %s", r, types(msgs))
	}
	if req := eng.LastRequest.Load(); !req.Silent || req.Count != 0 {
		t.Errorf("engine got %+v for a silent request", req)
	}
	r, msgs = k.run("result 5", map[string]any{"store_history": false})
	if r["execution_count"] != 0.0 || types(msgs) != "execute_input,execute_result" {
		t.Errorf("store_history=false: reply %v, iopub %s", r, types(msgs))
	}
	if r, _ = k.run("result 6", nil); r["execution_count"] != 1.0 {
		t.Errorf("first stored cell: %v", r)
	}
	r, msgs = k.run("   \n", nil)
	if r["status"] != "ok" || r["execution_count"] != 1.0 || types(msgs) != "execute_input" {
		t.Errorf("blank cell: reply %v, iopub %s", r, types(msgs))
	}
	if n := eng.Cells.Load(); n != 3 {
		t.Errorf("engine ran %d cells, want 3 (not the blank one)", n)
	}
	id := k.send("shell", "history_request", map[string]any{"output": false, "raw": true, "hist_access_type": "tail", "n": 10})
	h := k.reply("shell", id, "history_reply")["history"].([]any)
	if len(h) != 1 || h[0].([]any)[2] != "result 6" {
		t.Errorf("history = %v, want only the stored cell", h)
	}
}

func TestUserExpressionsAnswered(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	r, _ := k.run("print x", map[string]any{"user_expressions": map[string]any{"a": "1+1"}})
	ue := r["user_expressions"].(map[string]any)
	if a, _ := ue["a"].(map[string]any); a["status"] != "error" {
		t.Errorf("user_expressions = %v", ue)
	}
}

func TestStreamBatchingAndOrder(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	t.Run("batched", func(t *testing.T) {
		k := k.with(t)
		_, msgs := k.run("write 1000 10", nil)
		var want strings.Builder
		for j := range 1000 {
			want.WriteString(fakeengine.Chunk(j, 10))
		}
		if got := streamText(t, msgs, "stdout"); got != want.String() {
			t.Fatalf("stdout text differs: got %d bytes, want %d", len(got), want.Len())
		}
		if n := len(msgs) - 1; n > 20 {
			t.Errorf("1000 small writes became %d stream messages; want them batched", n)
		}
	})
	t.Run("order", func(t *testing.T) {
		k := k.with(t)
		_, msgs := k.run("print a\ndisplay text/html <i>x</i>\nprint b\neprint c\nprint d\nresult r", nil)
		var got []string
		for _, m := range msgs[1:] {
			c := contentOf(t, m)
			switch m.header.MsgType {
			case "stream":
				got = append(got, c["name"].(string)+":"+c["text"].(string))
			default:
				got = append(got, m.header.MsgType)
			}
		}
		want := []string{"stdout:a\n", "display_data", "stdout:b\n", "stderr:c\n", "stdout:d\n", "execute_result"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("order = %q, want %q", got, want)
		}
	})
}

func TestTenMegabytesOfOutput(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	const n, size = 2560, 4096 // 10 MiB
	r, msgs := k.run(fmt.Sprintf("write %d %d", n, size), nil)
	if r["status"] != "ok" {
		t.Fatalf("reply = %v", r)
	}
	total, streams := 0, 0
	for _, m := range msgs {
		if m.header.MsgType != "stream" {
			continue
		}
		text := contentOf(t, m)["text"].(string)
		if len(text) > streamMax {
			t.Fatalf("a stream message carries %d bytes, more than %d", len(text), streamMax)
		}
		// Every chunk is one letter repeated, then a newline, in order.
		for _, line := range strings.SplitAfter(text, "\n") {
			if line == "" {
				continue
			}
			if strings.HasSuffix(line, "\n") && total%size+len(line) == size {
				j := total / size
				if line[0] != byte('a'+j%26) {
					t.Fatalf("chunk %d starts with %q", j, line[0])
				}
			}
			total += len(line)
		}
		streams++
	}
	if total != n*size {
		t.Fatalf("got %d bytes of output, want %d", total, n*size)
	}
	if streams < n*size/streamMax || streams > n {
		t.Errorf("%d stream messages for %d bytes", streams, total)
	}
}

func TestLateOutputGoesToTheMostRecentCell(t *testing.T) {
	eng := &fakeengine.Engine{Later: make(chan struct{})}
	k := startKernel(t, eng, "secret")
	k.run("later from-cell-one", nil)
	second := k.execute("print second", nil)
	k.reply("shell", second, "execute_reply")
	k.iopubFor(second)
	close(eng.Later)
	m := k.recv("iopub")
	if m.header.MsgType != "stream" || parentID(m) != second || contentOf(t, m)["text"] != "from-cell-one\n" {
		t.Errorf("late output: %s parent %s %s; want a stream with the second cell as parent", m.header.MsgType, parentID(m), m.content())
	}
}

func TestInterruptOnControl(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	id := k.execute("sleep", nil)
	for m := k.recv("iopub"); m.header.MsgType != "execute_input"; m = k.recv("iopub") {
	}
	start := time.Now()
	iid := k.send("control", "interrupt_request", map[string]any{})
	if c := k.reply("control", iid, "interrupt_reply"); c["status"] != "ok" {
		t.Errorf("interrupt_reply = %v", c)
	}
	r := k.reply("shell", id, "execute_reply")
	if r["status"] != "error" || r["ename"] != "Interrupted" {
		t.Errorf("interrupted cell: %v", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("interrupt took %v", d)
	}
	k.drain()
	if r, _ := k.run("print ok", nil); r["status"] != "ok" {
		t.Errorf("cell after the interrupt: %v", r)
	}
	// An interrupt with nothing running is answered too.
	iid = k.send("control", "interrupt_request", map[string]any{})
	k.reply("control", iid, "interrupt_reply")
}

func TestControlWhileCellRuns(t *testing.T) {
	eng := &fakeengine.Engine{Gate: make(chan struct{})}
	k := startKernel(t, eng, "secret")
	id := k.execute("gate", nil)
	for m := k.recv("iopub"); m.header.MsgType != "execute_input"; m = k.recv("iopub") {
	}
	kid := k.send("control", "kernel_info_request", map[string]any{})
	k.reply("control", kid, "kernel_info_reply")
	// A shell request waits for the cell.
	sid := k.send("shell", "kernel_info_request", map[string]any{})
	k.expectNone("shell", 200*time.Millisecond)
	close(eng.Gate)
	k.reply("shell", id, "execute_reply")
	k.reply("shell", sid, "kernel_info_reply")
}

func TestStdin(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	for _, tt := range []struct {
		cmd      string
		password bool
	}{{"input", false}, {"password", true}} {
		t.Run(tt.cmd, func(t *testing.T) {
			k := k.with(t)
			id := k.execute("print before\n"+tt.cmd+" Name: ", nil)
			m := k.recv("stdin")
			c := contentOf(t, m)
			if m.header.MsgType != "input_request" || parentID(m) != id || c["prompt"] != "Name: " || c["password"] != tt.password {
				t.Fatalf("got %s parent %s %v", m.header.MsgType, parentID(m), c)
			}
			k.send("stdin", "input_reply", map[string]any{"value": "bob"})
			if r := k.reply("shell", id, "execute_reply"); r["status"] != "ok" {
				t.Errorf("reply = %v", r)
			}
			msgs := k.iopubFor(id)
			if got := streamText(t, msgs, "stdout"); got != "before\ngot bob\n" {
				t.Errorf("stdout = %q", got)
			}
		})
	}
	t.Run("allow_stdin=false", func(t *testing.T) {
		k := k.with(t)
		r, _ := k.run("input x", map[string]any{"allow_stdin": false})
		if r["status"] != "error" || r["ename"] != "NoStdin" {
			t.Errorf("reply = %v", r)
		}
		k.expectNone("stdin", 50*time.Millisecond)
	})
	t.Run("interrupted", func(t *testing.T) {
		k := k.with(t)
		id := k.execute("input x", nil)
		k.recv("stdin")
		k.send("control", "interrupt_request", map[string]any{})
		r := k.reply("shell", id, "execute_reply")
		if r["status"] != "error" || r["ename"] != "InputError" {
			t.Errorf("reply = %v", r)
		}
		k.drain()
		// A stray reply afterwards does not feed the next request.
		k.send("stdin", "input_reply", map[string]any{"value": "stale"})
		time.Sleep(50 * time.Millisecond)
		id = k.execute("input y", nil)
		k.recv("stdin")
		k.send("stdin", "input_reply", map[string]any{"value": "fresh"})
		k.reply("shell", id, "execute_reply")
		if got := streamText(t, k.iopubFor(id), "stdout"); got != "got fresh\n" {
			t.Errorf("stdout = %q", got)
		}
	})
}

func TestComms(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	for _, content := range []map[string]any{{}, {"target_name": "jupyter.widget"}} {
		id := k.send("shell", "comm_info_request", content)
		c := k.reply("shell", id, "comm_info_reply")
		if comms, ok := c["comms"].(map[string]any); c["status"] != "ok" || !ok || len(comms) != 0 {
			t.Errorf("comm_info_reply = %v", c)
		}
		k.iopubFor(id)
	}
	id := k.send("shell", "comm_open", map[string]any{"comm_id": "c1", "target_name": "no.such.target", "data": map[string]any{}})
	msgs := k.iopubFor(id)
	if types(msgs) != "status,comm_close,status" || contentOf(t, msgs[1])["comm_id"] != "c1" {
		t.Errorf("comm_open: %s", types(msgs))
	}
	for _, typ := range []string{"comm_msg", "comm_close"} {
		id := k.send("shell", typ, map[string]any{"comm_id": "unknown", "data": map[string]any{}})
		if msgs := k.iopubFor(id); types(msgs) != "status,status" {
			t.Errorf("%s: %s", typ, types(msgs))
		}
	}
	k.expectNone("shell", 50*time.Millisecond)
}

func TestHistory(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	for _, code := range []string{"result 1", "print a", "result 1", "panic x"} {
		k.run(code, map[string]any{"stop_on_error": false})
	}
	query := func(q map[string]any) []any {
		t.Helper()
		q["raw"] = true
		if _, ok := q["output"]; !ok {
			q["output"] = false
		}
		id := k.send("shell", "history_request", q)
		c := k.reply("shell", id, "history_reply")
		k.iopubFor(id)
		h, _ := c["history"].([]any)
		return h
	}
	lines := func(h []any) string {
		var s []string
		for _, e := range h {
			s = append(s, strconv.Itoa(int(e.([]any)[1].(float64))))
		}
		return strings.Join(s, ",")
	}
	for _, tt := range []struct {
		q    map[string]any
		want string
	}{
		{map[string]any{"hist_access_type": "tail", "n": 2}, "3,4"},
		{map[string]any{"hist_access_type": "tail"}, "1,2,3,4"},
		{map[string]any{"hist_access_type": "range", "session": 1, "start": 2, "stop": 3}, "2"},
		{map[string]any{"hist_access_type": "range", "session": 0, "start": 3}, "3,4"},
		{map[string]any{"hist_access_type": "range", "session": -1, "start": 1}, ""},
		{map[string]any{"hist_access_type": "search", "pattern": "result ?"}, "1,3"},
		{map[string]any{"hist_access_type": "search", "pattern": "result ?", "unique": true}, "3"},
		{map[string]any{"hist_access_type": "search", "pattern": "*", "n": 3}, "2,3,4"},
		{map[string]any{"hist_access_type": "search", "pattern": "p*"}, "2,4"},
	} {
		if got := lines(query(tt.q)); got != tt.want {
			t.Errorf("%v: lines %q, want %q", tt.q, got, tt.want)
		}
	}
	h := query(map[string]any{"hist_access_type": "tail", "n": 4, "output": true})
	first := h[0].([]any)
	if first[0] != 1.0 || first[2].([]any)[0] != "result 1" || first[2].([]any)[1] != "1" {
		t.Errorf("with output: %v", first)
	}
	if second := h[1].([]any)[2].([]any); second[1] != nil {
		t.Errorf("a cell without result has output %v", second[1])
	}
	id := k.send("shell", "history_request", map[string]any{"hist_access_type": "bogus", "output": false, "raw": true})
	if c := k.reply("shell", id, "history_reply"); c["status"] != "error" {
		t.Errorf("bogus access type: %v", c)
	}
}

func TestCompleteInspectIsComplete(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	ask := func(sock, typ string, content map[string]any) map[string]any {
		t.Helper()
		id := k.send(sock, typ+"_request", content)
		c := k.reply(sock, id, typ+"_reply")
		k.iopubFor(id)
		return c
	}
	c := ask("shell", "complete", map[string]any{"code": "x := fmt.Pri", "cursor_pos": 12})
	if fmt.Sprint(c["matches"]) != "[fmt.Print fmt.Printf fmt.Println]" || c["cursor_start"] != 5.0 || c["cursor_end"] != 12.0 {
		t.Errorf("complete = %v", c)
	}
	// cursor_pos counts code points; absent means the end.
	c = ask("shell", "complete", map[string]any{"code": "é := fmt.Sp"})
	if fmt.Sprint(c["matches"]) != "[fmt.Sprintf]" || c["cursor_start"] != 5.0 || c["cursor_end"] != 11.0 {
		t.Errorf("complete with é = %v", c)
	}
	c = ask("shell", "complete", map[string]any{"code": "zzz", "cursor_pos": 99})
	if m, ok := c["matches"].([]any); !ok || len(m) != 0 {
		t.Errorf("no matches should be [], got %v", c["matches"])
	}
	c = ask("shell", "inspect", map[string]any{"code": "fmt.Println", "cursor_pos": 3, "detail_level": 1})
	if c["status"] != "ok" || c["found"] != true || c["data"].(map[string]any)["text/plain"] != "doc for fmt.Println (detail 1)" {
		t.Errorf("inspect = %v", c)
	}
	c = ask("shell", "inspect", map[string]any{"code": "", "cursor_pos": 0})
	if c["found"] != false {
		t.Errorf("inspect nothing = %v", c)
	}
	for code, want := range map[string]string{"x := 1": "complete", "func f() {": "incomplete", "x := )": "invalid", "?": "unknown"} {
		c := ask("shell", "is_complete", map[string]any{"code": code})
		if c["status"] != want {
			t.Errorf("is_complete(%q) = %v, want %s", code, c, want)
		}
		if _, has := c["indent"]; has != (want == "incomplete") {
			t.Errorf("is_complete(%q) indent: %v", code, c)
		}
	}
	c = ask("control", "complete", map[string]any{"code": "fmt.P"})
	if c["status"] != "error" || c["ename"] != "WrongChannel" {
		t.Errorf("complete on control = %v", c)
	}
}

func TestUnknownMessageTypes(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	id := k.send("shell", "frobnicate_request", map[string]any{})
	if c := k.reply("shell", id, "frobnicate_reply"); c["status"] != "error" || c["ename"] != "UnsupportedRequest" {
		t.Errorf("reply = %v", c)
	}
	k.iopubFor(id)
	id = k.send("shell", "something_else", map[string]any{})
	if msgs := k.iopubFor(id); types(msgs) != "status,status" {
		t.Errorf("iopub = %s", types(msgs))
	}
	k.expectNone("shell", 100*time.Millisecond)
	id = k.send("control", "execute_request", map[string]any{"code": "print x"})
	if c := k.reply("control", id, "execute_reply"); c["ename"] != "WrongChannel" {
		t.Errorf("execute on control = %v", c)
	}
}

func TestEnginePanicIsAnError(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	r, msgs := k.run("crash", nil)
	if r["status"] != "error" || r["ename"] != "InternalError" || types(msgs) != "execute_input,error" {
		t.Errorf("reply %v, iopub %s", r, types(msgs))
	}
	if r, _ := k.run("print fine", nil); r["status"] != "ok" {
		t.Errorf("after the panic: %v", r)
	}
}

func TestShutdown(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			eng := &fakeengine.Engine{}
			k := startKernel(t, eng, "secret")
			id := k.send("control", "shutdown_request", map[string]any{"restart": restart})
			if c := k.reply("control", id, "shutdown_reply"); c["status"] != "ok" || c["restart"] != restart {
				t.Errorf("reply = %v", c)
			}
			msgs := k.iopubFor(id)
			if types(msgs) != "status,shutdown_reply,status" || contentOf(t, msgs[1])["restart"] != restart {
				t.Errorf("iopub = %s", types(msgs))
			}
			if err := k.wait(t); err != nil {
				t.Errorf("Serve = %v", err)
			}
			if !eng.Closed.Load() {
				t.Error("the engine was not closed")
			}
		})
	}
	t.Run("while a cell runs", func(t *testing.T) {
		eng := &fakeengine.Engine{}
		k := startKernel(t, eng, "secret")
		cell := k.execute("sleep", nil)
		for m := k.recv("iopub"); m.header.MsgType != "execute_input"; m = k.recv("iopub") {
		}
		id := k.send("control", "shutdown_request", map[string]any{"restart": false})
		k.reply("control", id, "shutdown_reply")
		if r := k.reply("shell", cell, "execute_reply"); r["status"] != "error" {
			t.Errorf("the running cell: %v", r)
		}
		if err := k.wait(t); err != nil || !eng.Closed.Load() {
			t.Errorf("Serve = %v, engine closed %v", err, eng.Closed.Load())
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		eng := &fakeengine.Engine{}
		k := startKernel(t, eng, "secret")
		k.cancel()
		if err := k.wait(t); err != nil || !eng.Closed.Load() {
			t.Errorf("Serve = %v, engine closed %v", err, eng.Closed.Load())
		}
	})
}

func TestHeartbeat(t *testing.T) {
	k := startKernel(t, &fakeengine.Engine{}, "secret")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 2 { // two clients at once
		hb := zmq4.NewReq(ctx)
		defer hb.Close()
		if err := hb.Dial(k.info.endpoint(k.info.HBPort)); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			ping := fmt.Sprintf("ping %d %d", i, j)
			if err := hb.Send(zmq4.NewMsgString(ping)); err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 1)
			go func() {
				m, err := hb.Recv()
				if err != nil {
					got <- err.Error()
					return
				}
				got <- string(m.Bytes())
			}()
			select {
			case g := <-got:
				if g != ping {
					t.Errorf("heartbeat echoed %q, want %q", g, ping)
				}
			case <-time.After(waitLong):
				t.Fatal("no heartbeat echo")
			}
		}
	}
}

func TestBindErrorsNameTheSocketAndPort(t *testing.T) {
	for _, name := range []string{"shell", "iopub", "hb"} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			taken := ln.Addr().(*net.TCPAddr).Port
			ports := freePorts(t, 5)
			info := ConnectionInfo{IP: "127.0.0.1", ShellPort: ports[0], IOPubPort: ports[1], StdinPort: ports[2], ControlPort: ports[3], HBPort: ports[4], Key: "k"}
			switch name {
			case "shell":
				info.ShellPort = taken
			case "iopub":
				info.IOPubPort = taken
			case "hb":
				info.HBPort = taken
			}
			eng := &fakeengine.Engine{}
			err = Serve(context.Background(), info, eng, Options{NoSignals: true, Logger: discardSlog()})
			want := map[string]string{"shell": "shell socket", "iopub": "iopub socket", "hb": "heartbeat socket"}[name]
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("port %d is already in use", taken)) {
				t.Errorf("Serve = %v; want an error naming the %s and port %d", err, want, taken)
			}
			if !eng.Closed.Load() {
				t.Error("the engine was not closed")
			}
			// The ports bound before the failure were released.
			for _, p := range ports {
				l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
				if err != nil {
					t.Errorf("port %d still bound after the failed Serve: %v", p, err)
					continue
				}
				l.Close()
			}
		})
	}
	t.Run("bad info", func(t *testing.T) {
		eng := &fakeengine.Engine{}
		err := Serve(context.Background(), ConnectionInfo{IP: "127.0.0.1"}, eng, Options{NoSignals: true, Logger: discardSlog()})
		if err == nil || !strings.Contains(err.Error(), "shell_port 0") || !eng.Closed.Load() {
			t.Errorf("Serve = %v, engine closed %v", err, eng.Closed.Load())
		}
	})
}
