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


class Interrupts(LabCase):
    """An interrupt inside ipc's blocking calls stops the cell, keeps every
    value, and leaves no worker process or segment behind."""

    timings = {}

    @classmethod
    def tearDownClass(cls):
        print("\ninterrupt -> idle: " + ", ".join("%s %.0f ms" % (k, v * 1000) for k, v in sorted(cls.timings.items())))
        super().tearDownClass()

    def interrupt_inside(self, name, setup, code, clean=True):
        self.ok("kept%s := %d" % (name, len(name)))
        if setup:
            self.ok(setup)
        pid = self.session_pid()
        msg_id = self.kc.execute('fmt.Println("blocking")\n' + code)
        deadline = time.time() + TIMEOUT
        text = ""
        while "blocking" not in text:
            msg = self.kc.get_iopub_msg(timeout=max(deadline - time.time(), 0.1))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            self.assertFalse(msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle", "the cell ended before it blocked")
        time.sleep(1.5)  # well inside the call
        start = time.time()
        self.km.interrupt_kernel()
        stderr = ""
        while True:
            msg = self.kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                stderr += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        took = time.time() - start
        self.timings[name] = took
        reply = self.kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=60)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "KeyboardInterrupt", reply["content"])
        self.assertNotIn("restarted", reply["content"]["evalue"])
        # The machine is shared and loaded: the bound is generous; the
        # measured times are printed (the goal is under a second).
        self.assertLess(took, 5.0, "%s: interrupt to idle took %.2f s" % (name, took))
        self.assertEqual(self.ok("kept%s" % name)[0], str(len(name)), "values declared before are kept")
        self.assertEqual(self.session_pid(), pid, "the same session process")
        if clean:
            self.assertClean(pid)

    def test_run(self):
        self.interrupt_inside("Run", None,
            'res, err := ipc.Run(context.Background(), ipc.Experiment{Transports: []string{"pipe", "shm-ring"}, Sizes: []int{64}, Duration: 20 * time.Second})\nfmt.Println(len(res), err)')

    def test_spawn(self):
        # A worker process whose cells take a minute to load: Spawn waits
        # for it to say hello.
        pid = self.session_pid()
        self.interrupt_inside("Spawn",
            # Registering runs at load, in the worker process too.
            "func slowIdle() ipc.WorkerFunc {\n\tif os.Getpid() != %d {\n\t\ttime.Sleep(time.Minute)\n\t}\n"
            "\treturn func(ctx context.Context, c ipc.Conn, arg []byte) error { return nil }\n}\n"
            'ipc.RegisterWorker("idle", slowIdle())' % pid,
            'sp, err := ipc.Spawn(context.Background(), "pipe", ipc.Options{}, "idle", nil)\nfmt.Println(sp, err)')

    def test_conn_recv(self):
        self.interrupt_inside("Recv",
            'pp, err := ipc.Spawn(context.Background(), "pipe", ipc.Options{}, "sink", nil)\nif err != nil { panic(err) }',
            'buf := make([]byte, 64)\nn, err := pp.Conn.Recv(context.Background(), buf)\nfmt.Println(n, err)', clean=False)
        # The worker spawned by an earlier cell keeps running: close it.
        pid = self.session_pid()
        self.ok("pp.Close()")
        self.assertClean(pid)

    def test_ring_wait(self):
        self.interrupt_inside("Ring",
            'rp, err := ipc.Spawn(context.Background(), "shm-ring", ipc.Options{}, "sink", nil)\nif err != nil { panic(err) }',
            'buf := make([]byte, 64)\nn, err := rp.Conn.Recv(context.Background(), buf)\nfmt.Println(n, err)', clean=False)
        pid = self.session_pid()
        self.ok("rp.Close()")
        self.assertClean(pid)

    def test_count_together(self):
        self.interrupt_inside("CountTogether", None,
            'cr, err := ipc.CountTogether(context.Background(), 2, 2000000000, ipc.Locked)\nfmt.Println(cr, err)')

    def test_spawned_in_the_interrupted_cell(self):
        # A worker the interrupted cell spawned is stopped with it.
        self.interrupt_inside("SpawnThenRecv", None,
            'wp, err := ipc.Spawn(context.Background(), "shm-ring", ipc.Options{}, "sink", nil)\nif err != nil { panic(err) }\nbuf := make([]byte, 64)\nn, err := wp.Conn.Recv(context.Background(), buf)\nfmt.Println(n, err)')


RACY = """var wg sync.WaitGroup
for i := 0; i < 2; i++ {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for j := 0; j < 1000; j++ {
			%s
		}
	}()
}
wg.Wait()
fmt.Println("counted", hits)"""


class Race(LabCase):
    def test_race_detector(self):
        self.ok("%goflags -race")
        # The variable is declared by an earlier cell: a package-level
        # variable, which the race detector misses in plugins.
        self.ok("var hits int\nvar hitsMu sync.Mutex\nfunc add() { hits++ }")
        content, _, out, err = self.run_cell(RACY % "add()")
        self.assertEqual(content["status"], "error", out + err)
        self.assertEqual(content["ename"], "DataRace", content)
        self.assertIn("WARNING: DATA RACE", err)
        count = content["execution_count"]
        # Both stacks name the cells: the write in add (the declaring cell,
        # line 3) and the goroutine the racy cell started (its line 4-7).
        self.assertGreaterEqual(err.count("cell%d.go:3" % (count - 1)), 2, err)
        self.assertRegex(err, r"cell%d\.go:[4-7]" % count)
        self.assertIn("counted", out)
        # The same with a mutex: no report.
        content, _, out, err = self.run_cell(RACY % "hitsMu.Lock(); add(); hitsMu.Unlock()")
        self.assertEqual(content["status"], "ok", content)
        self.assertNotIn("DATA RACE", err)
        self.assertIn("counted 4000", out)  # hits kept its 2000 from the racy cell
        # A top-level variable used directly from two goroutines.
        self.ok("shared := 0")
        content, _, out, err = self.run_cell(RACY.replace("hits)", "shared)") % "shared++")
        self.assertEqual(content["ename"], "DataRace", content)
        self.assertGreaterEqual(err.count("cell%d.go:7" % content["execution_count"]), 2, err)
        # Workers declared in cells work in the race-enabled program too,
        # the last registration of a name counting.
        self.ok(WORKER % "bytes.ToUpper(buf[:n])")
        self.ok(WORKER % '"v2 " + string(bytes.ToUpper(buf[:n]))')
        self.ok(ROUND_TRIP)
        _, out, _ = self.ok('fmt.Println(roundTrip("shm-ring", "raced"))')
        self.assertEqual(out, "v2 RACED\n")
        # Back to the live session.
        self.ok("%goflags")
        self.ok("n := 1")
        self.assertEqual(self.ok("n++; n")[0], "2")
        self.assertEqual(self.ok("func twice(x int) int { return 2 * x }\ntwice(n)")[0], "4")


if __name__ == "__main__":
    unittest.main()
