package ipc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets this test binary act as the helper processes of
// TestRemoteAcrossNamespaces, which runs them inside network namespaces.
func TestMain(m *testing.M) {
	switch os.Getenv("IPCLAB_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "serve":
		err := Serve(context.Background(), os.Getenv("IPCLAB_TEST_ADDR"), func(addr string) {
			fmt.Printf("listening on %s\n", addr)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "drive":
		os.Exit(drive())
	}
	os.Exit(2)
}

// drive runs the driver side against IPCLAB_TEST_ADDR and writes the
// results as JSON to IPCLAB_TEST_OUT.
func drive() int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var all Results
	e := Experiment{Transports: []string{"tcp", "zmq-tcp"}, Sizes: []int{64, 64 << 10}, Count: 2000, Trials: 2, Remote: os.Getenv("IPCLAB_TEST_ADDR")}
	if os.Getenv("IPCLAB_TEST_LONG") != "" {
		e.Transports, e.Count, e.Warmup = []string{"tcp"}, 1<<40, -1
		// Tell the test when the run is under way, so that it kills the
		// worker in the middle of it, not before the driver has connected.
		testHookPeerStarted = func(int) { fmt.Println("started") }
	}
	for _, mode := range []Mode{Stream, PingPong} {
		e.Mode = mode
		rs, err := Run(ctx, e)
		all = append(all, rs...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "driver:", err)
			return 1
		}
	}
	f, err := os.Create(os.Getenv("IPCLAB_TEST_OUT"))
	if err == nil {
		err = all.WriteJSON(f)
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestRemoteAcrossNamespaces measures tcp and zmq-tcp between two network
// namespaces joined by a veth pair: the consumer is an `ipclab worker`-style
// server (Serve) in one namespace, the driver runs in the other. Traffic
// stays on this machine; it is bounded by message counts and a timeout.
func TestRemoteAcrossNamespaces(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	need := func(why string) {
		if ci {
			t.Fatalf("%s (under CI=true this test must run: the CI runs as root with iproute2)", why)
		}
		t.Skipf("skipping the two-namespace test: %s", why)
	}
	if os.Geteuid() != 0 {
		need("it needs root to create network namespaces")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		need("it needs the ip command (Debian package iproute2)")
	}
	checkNoLeftovers(t)
	pid := os.Getpid()
	nsA, nsB := fmt.Sprintf("ipclab-%d-a", pid), fmt.Sprintf("ipclab-%d-b", pid)
	vA, vB := fmt.Sprintf("vipc%da", pid%100000), fmt.Sprintf("vipc%db", pid%100000)
	net := fmt.Sprintf("10.203.%d", pid%250)
	addrA, addrB := net+".1", net+".2"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command(ip, "netns", "del", nsA).Run()
		exec.Command(ip, "netns", "del", nsB).Run()
	})
	run("netns", "add", nsA)
	run("netns", "add", nsB)
	run("link", "add", vA, "netns", nsA, "type", "veth", "peer", "name", vB, "netns", nsB)
	run("-n", nsA, "addr", "add", addrA+"/30", "dev", vA)
	run("-n", nsB, "addr", "add", addrB+"/30", "dev", vB)
	for _, l := range [][2]string{{nsA, vA}, {nsB, vB}, {nsA, "lo"}, {nsB, "lo"}} {
		run("-n", l[0], "link", "set", l[1], "up")
	}

	startWorker := func() (*exec.Cmd, string) {
		w := exec.Command(ip, "netns", "exec", nsB, os.Args[0])
		w.Env = append(os.Environ(), "IPCLAB_TEST_HELPER=serve", "IPCLAB_TEST_ADDR=tcp://"+addrB+":0")
		w.Stderr = os.Stderr
		out, err := w.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Process.Kill(); w.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			t.Fatalf("worker in %s: %v", nsB, err)
		}
		return w, strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	}
	drive := func(addr string, long bool) *exec.Cmd {
		d := exec.Command(ip, "netns", "exec", nsA, os.Args[0])
		d.Env = append(os.Environ(), "IPCLAB_TEST_HELPER=drive", "IPCLAB_TEST_ADDR="+addr, "IPCLAB_TEST_OUT="+filepath.Join(t.TempDir(), "results.json"))
		if long {
			d.Env = append(d.Env, "IPCLAB_TEST_LONG=1")
		}
		return d
	}

	_, addr := startWorker()
	if !strings.HasPrefix(addr, "tcp://"+addrB+":") {
		t.Fatalf("worker listens on %q, want %s", addr, addrB)
	}
	d := drive(addr, false)
	out, err := d.CombinedOutput()
	if err != nil {
		t.Fatalf("driver in %s: %v\n%s", nsA, err, out)
	}
	var rs Results
	b, _ := os.ReadFile(d.Env[len(d.Env)-1][len("IPCLAB_TEST_OUT="):])
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatalf("driver results: %v\n%s", err, b)
	}
	if len(rs) != 8 {
		t.Fatalf("%d results, want 8", len(rs))
	}
	for _, r := range rs {
		t.Logf("%s %s %d: %.0f msg/s, p50 %v", r.Transport, r.Mode, r.SizeBytes, r.MessagesPerSecond, r.RTTp50)
		if r.Lost != 0 || r.Corrupt != 0 || r.Messages != 4000 || r.Environment.Parameters["remote"] != addr {
			t.Errorf("%s %s %d: %+v", r.Transport, r.Mode, r.SizeBytes, r)
		}
	}

	// A remote worker that dies in the middle of a run is reported.
	w, addr := startWorker()
	d = drive(addr, true)
	var stderr strings.Builder
	d.Stderr = &stderr
	dout, err := d.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(dout).ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("driver did not start its run: %q %v, stderr %q", line, err, stderr.String())
	}
	time.Sleep(300 * time.Millisecond)
	w.Process.Signal(syscall.SIGKILL)
	done := make(chan error, 1)
	go func() { done <- d.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(stderr.String(), ErrPeerDied.Error()) {
			t.Fatalf("driver after the worker died: %v, stderr %q", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		d.Process.Kill()
		t.Fatal("driver still running 20 s after the remote worker was killed")
	}
}
