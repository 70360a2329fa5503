package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/ipclab/ipclab/kernel/testdata/fakeengine"
)

// What a stranger who can reach the kernel's ports sends before any
// signature is checked: raw ZMTP over TCP.

func zmtpFrame(flags byte, body []byte) []byte {
	if len(body) < 256 {
		return append([]byte{flags, byte(len(body))}, body...)
	}
	h := make([]byte, 9)
	h[0] = flags | 0x02
	binary.BigEndian.PutUint64(h[1:], uint64(len(body)))
	return append(h, body...)
}

func zmtpReady(props ...string) []byte {
	b := append([]byte{5}, "READY"...)
	for i := 0; i+1 < len(props); i += 2 {
		b = append(b, byte(len(props[i])))
		b = append(b, props[i]...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(props[i+1])))
		b = append(b, props[i+1]...)
	}
	return zmtpFrame(0x04, b)
}

func zmtpLongHeader(size uint64) []byte {
	h := []byte{0x02, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(h[1:], size)
	return h
}

// attacks are what crashed or hung the kernel before the guard (zmtp.go);
// peer is a socket type the attacked socket accepts.
func attacks(peer string) map[string][]byte {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	g := zmtpGreeting
	return map[string][]byte{
		"socket-type FOO":       cat(g, zmtpReady("Socket-Type", "FOO")),
		"frame of 2^62 bytes":   cat(g, zmtpReady("Socket-Type", peer), zmtpLongHeader(1<<62)),
		"frame of 2^40 bytes":   cat(g, zmtpReady("Socket-Type", peer), zmtpLongHeader(1<<40)),
		"READY property cut":    cat(g, zmtpFrame(0x04, append(append([]byte{5}, "READY"...), 11, 'S', 'o'))),
		"READY value too long":  cat(g, zmtpFrame(0x04, append(append([]byte{5}, "READY"...), 1, 'x', 0xff, 0xff, 0xff, 0xff))),
		"frame above the limit": cat(g, zmtpReady("Socket-Type", peer), zmtpLongHeader(maxFrame+1)),
		"reserved flag bits":    cat(g, zmtpReady("Socket-Type", peer), []byte{0xf0, 1, 'x'}),
	}
}

// kernelProcess is the kernel (with the scripted engine) as a process of
// its own, so that a crash shows as an exit rather than ending the test.
type kernelProcess struct {
	info ConnectionInfo
	cmd  *exec.Cmd
	logs *syncBuffer
	exit chan struct{}
}

// TestMain removes the fake kernel built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if fakeKernelDir != "" {
		os.RemoveAll(fakeKernelDir)
	}
	os.Exit(code)
}

var fakeKernelDir string

var buildFakeKernel = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ipclab-fakekernel-")
	if err != nil {
		return "", err
	}
	fakeKernelDir = dir
	bin := filepath.Join(dir, "fakekernel")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/fakekernel").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the fake kernel: %v\n%s", err, out)
	}
	return bin, nil
})

func startKernelProcess(t *testing.T) *kernelProcess {
	t.Helper()
	bin, err := buildFakeKernel()
	if err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 5)
	info := ConnectionInfo{
		Transport: "tcp", IP: "127.0.0.1",
		ShellPort: ports[0], IOPubPort: ports[1], StdinPort: ports[2], ControlPort: ports[3], HBPort: ports[4],
		Key: "secret", SignatureScheme: "hmac-sha256",
	}
	cf := filepath.Join(t.TempDir(), "kernel.json")
	b, _ := json.Marshal(info)
	if err := os.WriteFile(cf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	kp := &kernelProcess{info: info, logs: &syncBuffer{}, exit: make(chan struct{})}
	kp.cmd = exec.Command(bin, cf)
	kp.cmd.Stderr = kp.logs
	if err := kp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { kp.cmd.Wait(); close(kp.exit) }()
	t.Cleanup(func() {
		kp.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-kp.exit:
		case <-time.After(waitLong):
			kp.cmd.Process.Kill()
			<-kp.exit
		}
		if t.Failed() {
			t.Logf("kernel log:\n%s", kp.logs.String())
		}
	})
	c := dial(t, info, info.Key) // the kernel is up when it answers
	c.waitReady()
	c.close()
	return kp
}

func (kp *kernelProcess) alive(t *testing.T) {
	t.Helper()
	select {
	case <-kp.exit:
		t.Fatalf("the kernel died: %v\n%s", kp.cmd.ProcessState, tail(kp.logs.String(), 2000))
	default:
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// serving checks that a new client gets kernel_info on shell and control,
// IOPub status and a heartbeat echo, within limit.
func (kp *kernelProcess) serving(t *testing.T, limit time.Duration) {
	t.Helper()
	kp.alive(t)
	start := time.Now()
	c := dial(t, kp.info, kp.info.Key)
	defer c.close()
	c.waitReady()
	id := c.send("control", "kernel_info_request", map[string]any{})
	c.reply("control", id, "kernel_info_reply")
	heartbeat(t, kp.info)
	kp.alive(t)
	if d := time.Since(start); d > limit {
		t.Fatalf("a new client took %v to be served (limit %v)", d, limit)
	}
}

func heartbeat(t *testing.T, info ConnectionInfo) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	hb := zmq4.NewReq(ctx)
	defer hb.Close()
	if err := hb.Dial(info.endpoint(info.HBPort)); err != nil {
		t.Fatalf("dial heartbeat: %v", err)
	}
	if err := hb.Send(zmq4.NewMsgString("ping")); err != nil {
		t.Fatalf("heartbeat send: %v", err)
	}
	m, err := hb.Recv()
	if err != nil || string(m.Frames[0]) != "ping" {
		t.Fatalf("heartbeat echo: %v %q", err, m.Frames)
	}
}

func (kp *kernelProcess) ports() map[string]int {
	i := kp.info
	return map[string]int{"shell": i.ShellPort, "control": i.ControlPort, "stdin": i.StdinPort, "hb": i.HBPort, "iopub": i.IOPubPort}
}

// send writes raw bytes to a port and reads until the kernel closes the
// connection or 2 s pass.
func sendRaw(t *testing.T, port int, data []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		t.Fatalf("connect to %d: %v", port, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write(data)
	io.Copy(io.Discard, c)
}

// TestPreAuthAttacks: with a key the stranger does not know, malformed
// handshakes and frame headers on every socket neither crash the kernel nor
// stop it serving an existing client and new ones.
func TestPreAuthAttacks(t *testing.T) {
	kp := startKernelProcess(t)
	existing := dial(t, kp.info, kp.info.Key)
	defer existing.close()
	existing.waitReady()
	for sock, port := range kp.ports() {
		peer := "DEALER"
		if sock == "iopub" {
			peer = "SUB"
		}
		for name, data := range attacks(peer) {
			t.Run(sock+"/"+name, func(t *testing.T) {
				sendRaw(t, port, data)
				time.Sleep(50 * time.Millisecond) // a crash takes a moment
				kp.alive(t)
			})
		}
	}
	kp.serving(t, waitLong)
	id := existing.send("shell", "kernel_info_request", map[string]any{})
	existing.reply("shell", id, "kernel_info_reply")
	if !bytes.Contains([]byte(kp.logs.String()), []byte("rejected a peer")) {
		t.Error("the kernel log does not mention the rejected peers")
	}
}

// TestIdleConnectionBlocksNoOne: a connection that sends nothing on every
// socket does not keep new clients from connecting (zmq4 ran the handshake
// in its accept loop, with no deadline).
func TestIdleConnectionBlocksNoOne(t *testing.T) {
	kp := startKernelProcess(t)
	for _, port := range kp.ports() {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// and one that sends half a greeting
		c2, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.Write(zmtpGreeting[:10])
	}
	kp.serving(t, zmtpHandshakeTimeout/2)
}

// FuzzZMTP sends arbitrary bytes after a greeting to the real sockets of an
// in-process kernel and checks after each input that it still serves a
// client. A panic anywhere in zmq4 or the guard ends the fuzz run.
func FuzzZMTP(f *testing.F) {
	for _, peer := range []string{"DEALER", "SUB"} {
		for _, a := range attacks(peer) {
			f.Add(byte(0), a[64:])
		}
		f.Add(byte(1), zmtpReady("Socket-Type", peer, "Identity", "abc"))
		f.Add(byte(4), append(zmtpReady("Socket-Type", peer), zmtpFrame(0x01, []byte("x"))...))
		f.Add(byte(2), append(zmtpReady("Socket-Type", peer), zmtpFrame(0x04, append([]byte{9}, "SUBSCRIBE"...))...))
	}
	f.Add(byte(3), []byte{0x04, 0x00})
	ports := freePortsF(f, 5)
	info := ConnectionInfo{
		Transport: "tcp", IP: "127.0.0.1",
		ShellPort: ports[0], IOPubPort: ports[1], StdinPort: ports[2], ControlPort: ports[3], HBPort: ports[4],
		Key: "secret", SignatureScheme: "hmac-sha256",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, info, &fakeengine.Engine{}, Options{Logger: discardSlog(), NoSignals: true, ImplementationVersion: "fuzz"})
	}()
	f.Cleanup(func() { cancel(); <-done })
	all := []int{info.ShellPort, info.IOPubPort, info.StdinPort, info.ControlPort, info.HBPort}
	for _, port := range all { // wait until every socket listens
		for deadline := time.Now().Add(waitLong); ; time.Sleep(20 * time.Millisecond) {
			c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				f.Fatalf("the kernel does not listen on %d: %v", port, err)
			}
		}
	}
	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		port := all[int(which)%len(all)]
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		c.SetDeadline(time.Now().Add(50 * time.Millisecond))
		c.Write(append(append([]byte(nil), zmtpGreeting...), data...))
		io.Copy(io.Discard, c)
		c.Close()
		if which%16 == 0 { // now and then: still serving?
			heartbeat(t, info)
		}
	})
}

func freePortsF(f *testing.F, n int) []int {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
