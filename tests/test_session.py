"""The live session through a real Jupyter client: every cell rule of the README.

Run by tests/jupyter_test.go (go test ./tests/) against the installed ipclab kernel.
"""
import time
import unittest

from jupyter_client.manager import start_new_kernel

TIMEOUT = 300


class Session(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name="ipclab", startup_timeout=TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=False)

    def run_cell(self, code, timeout=TIMEOUT):
        """Runs code; returns (reply content, text/plain value, stdout, stderr, outputs)."""
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
        return reply["content"], value, stdout, stderr, outputs

    def ok(self, code):
        content, value, stdout, stderr, _ = self.run_cell(code)
        self.assertEqual(content["status"], "ok", f"{code!r} failed: {content.get('ename')}: {content.get('evalue')}\n{stderr}")
        return value, stdout

    def test_counter_persists(self):
        self.ok("counter := 0")
        self.assertEqual([self.ok("counter++; counter")[0] for _ in range(3)], ["1", "2", "3"])

    def test_worker_pool_goroutines_survive(self):
        self.ok("func doubler(jobs <-chan int, results chan<- int) { for j := range jobs { results <- j * 2 } }")
        self.ok("jobs := make(chan int, 100); results := make(chan int, 100)")
        self.ok("for w := 1; w <= 3; w++ { go doubler(jobs, results) }")
        self.ok("for j := 1; j <= 9; j++ { jobs <- j }; close(jobs)")
        self.assertEqual(self.ok("sum := 0; for i := 0; i < 9; i++ { sum += <-results }; sum")[0], "90")

    def test_unexported_fields_methods_and_type_switch(self):
        self.ok("type vec struct{ x, y float64 }\nfunc (v vec) norm() float64 { return math.Hypot(v.x, v.y) }\nfunc (v *vec) scale(k float64) { v.x *= k; v.y *= k }")
        self.ok("v := vec{3, 4}\nw := &vec{x: 1}")
        self.assertEqual(self.ok("v.norm()")[0], "5")
        self.assertEqual(self.ok("v.scale(2); v.x")[0], "6")
        self.assertEqual(self.ok("w.y = 9; w.x + w.y")[0], "10")
        _, out = self.ok('fmt.Printf("%+v %T\\n", v, v)')
        self.assertIn("{x:6 y:8} cell.vec", out)
        self.ok("var boxed any = v")
        self.assertEqual(self.ok('switch b := boxed.(type) {\ncase vec:\n\tfmt.Println("vec", b.x)\ndefault:\n\tfmt.Println("other")\n}')[1], "vec 6\n")

    def test_redefinition_and_rerun(self):
        self.ok('func hello() string { return "hello" }')
        self.assertEqual(self.ok("hello()")[0], "hello")
        self.ok('func hello() string { return "hi again" }')
        self.assertEqual(self.ok("hello()")[0], "hi again")
        cell = "reruns := 0\nreruns++\nreruns"
        self.assertEqual(self.ok(cell)[0], "1")
        self.assertEqual(self.ok(cell)[0], "1", "running a cell again runs it again")

    def test_interrupt_keeps_values(self):
        self.ok("survivor := 41")
        msg_id = self.kc.execute("for {}")
        time.sleep(4)  # let it build and spin
        start = time.time()
        self.km.interrupt_kernel()
        reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
        self.assertLess(time.time() - start, 2.0)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "KeyboardInterrupt")
        self.assertEqual(self.ok("survivor + 1")[0], "42")

    def test_panic_names_cell_and_line(self):
        content, _, _, _, outputs = self.run_cell('func explode() {\n\tpanic("kaboom")\n}\nexplode()')
        self.assertEqual(content["status"], "error")
        self.assertEqual(content["ename"], "panic")
        tb = "\n".join(content["traceback"])
        self.assertIn("kaboom", tb)
        self.assertRegex(tb, r"cell \d+, line 2")
        errors = [m for m in outputs if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1, "one error message, not also a dump on stderr")

    def test_os_exit_and_goroutine_panic_leave_session_alive(self):
        self.ok("alive := true")
        content, *_ = self.run_cell("os.Exit(3)")
        self.assertEqual((content["status"], content["ename"]), ("error", "Exit"))
        content, *_ = self.run_cell('go func() { panic("from a goroutine") }()\ntime.Sleep(200 * time.Millisecond)')
        self.assertEqual(content["status"], "error")
        self.assertIn("from a goroutine", content["evalue"])
        self.assertEqual(self.ok("alive")[0], "true")


class Restart(unittest.TestCase):
    def test_restart_gives_a_fresh_session(self):
        km, kc = start_new_kernel(kernel_name="ipclab", startup_timeout=TIMEOUT)
        try:
            kc.execute_interactive("before := 1", timeout=TIMEOUT)
            km.restart_kernel(now=False)
            kc.wait_for_ready(timeout=TIMEOUT)
            reply = kc.execute_interactive("before", timeout=TIMEOUT)
            self.assertEqual(reply["content"]["status"], "error")
            self.assertIn("undefined: before", reply["content"]["evalue"])
            reply = kc.execute_interactive("after := 2; after", timeout=TIMEOUT)
            self.assertEqual(reply["content"]["status"], "ok")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=False)


if __name__ == "__main__":
    unittest.main()
