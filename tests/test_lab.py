"""Issue 9 parts 2-4 through a real Jupyter client: workers declared in cells,
interrupts inside ipc's blocking calls that keep the session's values, and
%goflags -race.

Run by tests/jupyter_test.go (go test ./tests/ -run Jupyter/lab).
"""
import os
import time
import unittest

from jupyter_client.manager import start_new_kernel

TIMEOUT = 300

WORKER = '''
func upper(ctx context.Context, c ipc.Conn, arg []byte) error {
	buf := make([]byte, 4096)
	for {
		n, err := c.Recv(ctx, buf)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := c.Send(ctx, []byte(%s)); err != nil {
			return err
		}
	}
}
ipc.RegisterWorker("upper", upper)
'''

ROUND_TRIP = '''
func ask(p *ipc.Peer, msg string) string {
	ctx := context.Background()
	if err := p.Conn.Send(ctx, []byte(msg)); err != nil {
		return "send: " + err.Error()
	}
	buf := make([]byte, 4096)
	n, err := p.Conn.Recv(ctx, buf)
	if err != nil {
		return "recv: " + err.Error()
	}
	return string(buf[:n])
}

func roundTrip(transport, msg string) string {
	p, err := ipc.Spawn(context.Background(), transport, ipc.Options{}, "upper", nil)
	if err != nil {
		return "spawn: " + err.Error()
	}
	defer p.Close()
	return ask(p, msg)
}
'''


def children(pid):
    """PIDs of the live processes whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return out


def segments(pid):
    return [n for n in os.listdir("/dev/shm") if n.startswith("ipclab-%d-" % pid)]


class LabCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name="ipclab", startup_timeout=TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=False)

    def run_cell(self, code, timeout=TIMEOUT):
        outputs = []
        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=outputs.append)
        value, stdout, stderr = None, "", ""
        for m in outputs:
            t, c = m["msg_type"], m["content"]
            if t == "execute_result":
                value = c["data"].get("text/plain")
            elif t == "stream":
                if c["name"] == "stdout":
                    stdout += c["text"]
                else:
                    stderr += c["text"]
            elif t == "error":
                stderr += "\n".join(c["traceback"])
        return reply["content"], value, stdout, stderr

    def ok(self, code):
        content, value, stdout, stderr = self.run_cell(code)
        self.assertEqual(content["status"], "ok", "%r failed: %s: %s\n%s" % (code, content.get("ename"), content.get("evalue"), stderr))
        return value, stdout, stderr

    def session_pid(self):
        return int(self.ok("os.Getpid()")[0])

    def assertClean(self, pid):
        deadline = time.time() + 3
        while time.time() < deadline and (children(pid) or segments(pid)):
            time.sleep(0.1)
        self.assertEqual(children(pid), [], "worker processes left behind")
        self.assertEqual(segments(pid), [], "/dev/shm segments left behind")


class Workers(LabCase):
    def test_worker_declared_in_a_cell(self):
        self.ok(WORKER % "bytes.ToUpper(buf[:n])")
        self.ok(ROUND_TRIP)
        _, out, _ = self.ok('fmt.Println(roundTrip("pipe", "hello pipe"))\nfmt.Println(roundTrip("shm-ring", "hello ring"))')
        self.assertEqual(out, "HELLO PIPE\nHELLO RING\n")
        # Redefined: the next spawn runs the new worker.
        self.ok(WORKER % '"v2 " + string(bytes.ToUpper(buf[:n]))')
        _, out, _ = self.ok('fmt.Println(roundTrip("pipe", "again"))\nfmt.Println(roundTrip("shm-ring", "again"))')
        self.assertEqual(out, "v2 AGAIN\nv2 AGAIN\n")
        # Redefined while a spawned worker runs: that one keeps its code.
        self.ok('running, err := ipc.Spawn(context.Background(), "pipe", ipc.Options{}, "upper", nil)\nif err != nil { panic(err) }')
        self.ok(WORKER % '"v3 " + string(bytes.ToUpper(buf[:n]))')
        _, out, _ = self.ok('fmt.Println(ask(running, "old"))\nfmt.Println(roundTrip("pipe", "new"))')
        self.assertEqual(out, "v2 OLD\nv3 NEW\n")
        pid = self.session_pid()
        self.ok("running.Close()")
        self.assertClean(pid)

    def test_worker_registered_in_init(self):
        # func init in a cell runs when the cell loads once issue 9 part 1
        # (branch cells) is in; until then this case cannot run.
        self.ok("var initRan bool\nfunc init() { initRan = true }")
        if self.ok("initRan")[0] != "true":
            self.skipTest("func init in cells does not run yet (issue 9 part 1)")
        self.ok('func shout(ctx context.Context, c ipc.Conn, arg []byte) error {\n\tbuf := make([]byte, 64)\n\tn, err := c.Recv(ctx, buf)\n\tif err != nil {\n\t\treturn err\n\t}\n\treturn c.Send(ctx, append(buf[:n], \'!\'))\n}\n\nfunc init() { ipc.RegisterWorker("shout", shout) }')
        _, out, _ = self.ok('sp, err := ipc.Spawn(context.Background(), "pipe", ipc.Options{}, "shout", nil)\nif err != nil { panic(err) }\nsp.Conn.Send(context.Background(), []byte("hey"))\nsb := make([]byte, 64)\nsn, _ := sp.Conn.Recv(context.Background(), sb)\nfmt.Println(string(sb[:sn]), sp.Wait(context.Background()))\nsp.Close()')
        self.assertEqual(out, "hey! <nil>\n")

    def test_unknown_worker(self):
        pid = self.session_pid()
        _, out, _ = self.ok('_, err := ipc.Spawn(context.Background(), "pipe", ipc.Options{}, "nosuch", nil)\nfmt.Println(err, errors.Is(err, ipc.ErrUnknownWorker))')
        self.assertIn('"nosuch"', out)
        self.assertIn("unknown worker true", out)
        self.assertClean(pid)

    def test_worker_that_panics(self):
        pid = self.session_pid()
        self.ok('func explode(ctx context.Context, c ipc.Conn, arg []byte) error {\n\tvar m map[string]int\n\tm["x"] = 1\n\treturn nil\n}\nipc.RegisterWorker("explode", explode)')
        _, out, _ = self.ok('bp, err := ipc.Spawn(context.Background(), "pipe", ipc.Options{}, "explode", nil)\nif err == nil {\n\terr = bp.Wait(context.Background())\n\tbp.Close()\n}\nfmt.Println(err)')
        self.assertIn('worker "explode" panicked: assignment to entry in nil map', out)
        self.assertRegex(out, r"cell\d+\.go:3")
        self.assertClean(pid)
        self.assertEqual(self.ok("1 + 1")[0], "2")


if __name__ == "__main__":
    unittest.main()
