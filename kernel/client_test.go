package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// This file is a small Jupyter client over real ZeroMQ sockets (zmq4), for
// driving Serve in tests.

const waitLong = 10 * time.Second

type testKernel struct {
	*client
	info   ConnectionInfo
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

// startKernel runs Serve with eng on free loopback ports and connects a
// client; both are stopped at the end of the test.
func startKernel(t *testing.T, eng Engine, key string) *testKernel {
	t.Helper()
	ports := freePorts(t, 5)
	info := ConnectionInfo{
		Transport: "tcp", IP: "127.0.0.1",
		ShellPort: ports[0], IOPubPort: ports[1], StdinPort: ports[2], ControlPort: ports[3], HBPort: ports[4],
		Key: key, SignatureScheme: "hmac-sha256",
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	tk := &testKernel{info: info, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() {
		tk.done <- Serve(ctx, info, eng, Options{Logger: logger, NoSignals: true, ImplementationVersion: "test"})
	}()
	tk.client = dial(t, info, key)
	t.Cleanup(func() {
		tk.client.close()
		cancel()
		select {
		case <-tk.done:
		case <-time.After(waitLong):
			t.Error("Serve did not return after its context was cancelled")
		}
		if t.Failed() {
			t.Logf("kernel log:\n%s", logs.String())
		}
	})
	tk.waitReady()
	return tk
}

// wait returns Serve's result.
func (tk *testKernel) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-tk.done:
		tk.done <- err // for the cleanup
		return err
	case <-time.After(waitLong):
		t.Fatal("Serve did not return")
		return nil
	}
}

func discardSlog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// client is a connection to the kernel as seen from one test; with gives
// a subtest its own view of the same connection.
type client struct {
	t *testing.T
	*clientConn
}

type clientConn struct {
	sign    signer
	session string
	socks   map[string]zmq4.Socket
	in      map[string]chan *message
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func (c *client) with(t *testing.T) *client { return &client{t, c.clientConn} }

func (tk *testKernel) with(t *testing.T) *testKernel {
	cp := *tk
	cp.client = tk.client.with(t)
	return &cp
}

func dial(t *testing.T, info ConnectionInfo, key string) *client {
	t.Helper()
	sign, err := newSigner("hmac-sha256", key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{t, &clientConn{sign: sign, session: newID(), socks: map[string]zmq4.Socket{}, in: map[string]chan *message{}, ctx: ctx, cancel: cancel}}
	id := zmq4.WithID(zmq4.SocketIdentity(c.session))
	c.socks["shell"] = zmq4.NewDealer(ctx, id)
	c.socks["control"] = zmq4.NewDealer(ctx, id)
	c.socks["stdin"] = zmq4.NewDealer(ctx, id)
	c.socks["iopub"] = zmq4.NewSub(ctx)
	ports := map[string]int{"shell": info.ShellPort, "control": info.ControlPort, "stdin": info.StdinPort, "iopub": info.IOPubPort}
	for name, s := range c.socks {
		if err := s.Dial(info.endpoint(ports[name])); err != nil {
			c.close()
			t.Fatalf("dial %s: %v", name, err)
		}
	}
	if err := c.socks["iopub"].SetOption(zmq4.OptionSubscribe, ""); err != nil {
		t.Fatal(err)
	}
	for name, s := range c.socks {
		ch := make(chan *message, 10000)
		c.in[name] = ch
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				zm, err := s.Recv()
				if err != nil {
					return
				}
				m, err := decode(zm.Frames, c.sign)
				if err != nil {
					t.Errorf("client: %s sent an undecodable message: %v", name, err)
					continue
				}
				ch <- m
			}
		}()
	}
	return c
}

func (c *client) close() {
	c.cancel()
	for _, s := range c.socks {
		s.Close()
	}
	c.wg.Wait()
}

// waitReady sends kernel_info_request until a reply comes and IOPub carries
// messages (the subscription has reached the kernel), then drains.
func (c *client) waitReady() {
	c.t.Helper()
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		id := c.send("shell", "kernel_info_request", map[string]any{})
		if r := c.tryRecv("shell", time.Second); r == nil || parentID(r) != id {
			continue
		}
		if c.tryRecv("iopub", 200*time.Millisecond) != nil {
			c.drain()
			return
		}
	}
	c.t.Fatal("the kernel did not become ready")
}

// drain discards whatever arrives until 100 ms pass quietly.
func (c *client) drain() {
	for {
		got := false
		for _, ch := range c.in {
			select {
			case <-ch:
				got = true
			default:
			}
		}
		if !got {
			time.Sleep(100 * time.Millisecond)
			quiet := true
			for _, ch := range c.in {
				if len(ch) > 0 {
					quiet = false
				}
			}
			if quiet {
				return
			}
		}
	}
}

func (c *client) frames(msgType string, content any, s signer) ([][]byte, string) {
	h := header{MsgID: newID(), Session: c.session, Username: "test", Date: timestamp(time.Now()), MsgType: msgType, Version: protocolVersion}
	frames, err := s.encode(nil, h, nil, nil, content)
	if err != nil {
		c.t.Fatal(err)
	}
	return frames, h.MsgID
}

// send sends a signed request and returns its msg_id.
func (c *client) send(sock, msgType string, content any) string {
	c.t.Helper()
	frames, id := c.frames(msgType, content, c.sign)
	c.sendFrames(sock, frames)
	return id
}

func (c *client) sendFrames(sock string, frames [][]byte) {
	c.t.Helper()
	if err := c.socks[sock].Send(zmq4.NewMsgFrom(frames...)); err != nil {
		c.t.Fatalf("send on %s: %v", sock, err)
	}
}

func (c *client) tryRecv(sock string, d time.Duration) *message {
	select {
	case m := <-c.in[sock]:
		return m
	case <-time.After(d):
		return nil
	}
}

func (c *client) recv(sock string) *message {
	c.t.Helper()
	m := c.tryRecv(sock, waitLong)
	if m == nil {
		c.t.Fatalf("nothing arrived on %s within %v", sock, waitLong)
	}
	return m
}

// reply waits for the reply to id on sock and checks its type.
func (c *client) reply(sock, id, msgType string) map[string]any {
	c.t.Helper()
	m := c.recv(sock)
	if m.header.MsgType != msgType || parentID(m) != id {
		c.t.Fatalf("on %s got %s (parent %s), want %s for %s: %s", sock, m.header.MsgType, parentID(m), msgType, id, m.content())
	}
	return contentOf(c.t, m)
}

// expectNone checks that nothing arrives on sock for d.
func (c *client) expectNone(sock string, d time.Duration) {
	c.t.Helper()
	if m := c.tryRecv(sock, d); m != nil {
		c.t.Fatalf("unexpected %s on %s: %s", m.header.MsgType, sock, m.content())
	}
}

// iopubFor returns the IOPub messages with parent id, from its busy status
// to its idle status, and checks that they are framed so.
func (c *client) iopubFor(id string) []*message {
	c.t.Helper()
	var msgs []*message
	for {
		m := c.recv("iopub")
		if parentID(m) != id {
			c.t.Fatalf("iopub message %s with parent %s while waiting for the output of %s: %s", m.header.MsgType, parentID(m), id, m.content())
		}
		msgs = append(msgs, m)
		if m.header.MsgType == "status" && contentOf(c.t, m)["execution_state"] == "idle" {
			break
		}
	}
	if first := msgs[0]; first.header.MsgType != "status" || contentOf(c.t, first)["execution_state"] != "busy" {
		c.t.Fatalf("first iopub message for %s is %s %s, want status busy", id, first.header.MsgType, first.content())
	}
	return msgs
}

// execute sends an execute_request with the given extra fields.
func (c *client) execute(code string, extra map[string]any) string {
	content := map[string]any{"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{}, "allow_stdin": true, "stop_on_error": true}
	for k, v := range extra {
		content[k] = v
	}
	return c.send("shell", "execute_request", content)
}

// run executes code and returns its reply and the IOPub messages between
// busy and idle (exclusive).
func (c *client) run(code string, extra map[string]any) (map[string]any, []*message) {
	c.t.Helper()
	id := c.execute(code, extra)
	reply := c.reply("shell", id, "execute_reply")
	msgs := c.iopubFor(id)
	return reply, msgs[1 : len(msgs)-1]
}

func parentID(m *message) string {
	var p struct {
		MsgID string `json:"msg_id"`
	}
	_ = json.Unmarshal(m.parts[1], &p)
	return p.MsgID
}

func contentOf(t *testing.T, m *message) map[string]any {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(m.content(), &c); err != nil {
		t.Fatalf("content of %s: %v", m.header.MsgType, err)
	}
	return c
}

func types(msgs []*message) string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.header.MsgType)
	}
	return strings.Join(s, ",")
}

// streamText concatenates the text of the stream messages named name.
func streamText(t *testing.T, msgs []*message, name string) string {
	var b strings.Builder
	for _, m := range msgs {
		if m.header.MsgType == "stream" {
			c := contentOf(t, m)
			if c["name"] == name {
				b.WriteString(c["text"].(string))
			}
		}
	}
	return b.String()
}
