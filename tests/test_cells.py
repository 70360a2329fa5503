"""Cells as people write them, through a real Jupyter client on the real kernel.

Issue 9 part 1 (ordinary Go that used to fail), part 5 (stdin without a front
end) and issue 11 part 6 (errors that went to the wrong place or vanished).
Run by tests/jupyter_test.go (go test ./tests/ -run Jupyter/cells).
"""
import os
import pathlib
import signal
import tempfile
import time
import unittest
from queue import Empty

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from ipclab_testing import CELL_TIMEOUT, KERNEL, drain, run, shell_reply, start_kernel, stop_kernel, stream_text, strip_ansi


def value_of(outputs):
    for m in outputs:
        if m["msg_type"] == "execute_result":
            return m["content"]["data"].get("text/plain")
    return None


def session_processes(kernel_pid):
    """The kernel's session processes: its children running the session
    program (cached as …/built/session-HASH), not its builds or gopls."""
    out = []
    for pid in children(kernel_pid):
        try:
            argv0 = pathlib.Path("/proc", str(pid), "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if os.path.basename(argv0).startswith(b"session-"):
            out.append(pid)
    return out


def children(pid):
    """The ids of the processes whose parent is pid, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = pathlib.Path("/proc", d, "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid …; comm may hold spaces and parentheses.
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


class CellTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_kernel()

    @classmethod
    def tearDownClass(cls):
        stop_kernel(cls.km, cls.kc)

    def cell(self, code):
        reply, outputs = run(self.kc, code)
        return reply["content"], outputs

    def ok(self, code):
        content, outputs = self.cell(code)
        self.assertEqual(content["status"], "ok",
                         "%r failed: %s: %s\n%s" % (code, content.get("ename"), strip_ansi(content.get("evalue", "")),
                                                   strip_ansi("\n".join(content.get("traceback", [])))))
        return value_of(outputs), outputs

    def error(self, code, ename):
        content, outputs = self.cell(code)
        self.assertEqual((content["status"], content.get("ename")), ("error", ename), (code, content))
        return strip_ansi(content["evalue"] + "\n" + "\n".join(content["traceback"])), outputs


class OrdinaryCells(CellTestCase):
    """Issue 9.1: each cell here failed before."""

    def test_imports_after_declarations(self):
        v, _ = self.ok('import "os"\nvar a = 1\nfunc g() int { return a }\nb := g()\n_ = os.Args\nb')
        self.assertEqual(v, "1")
        v, _ = self.ok('var a2 = 2\nfunc g2() int { return a2 }\nimport "strconv"\nstrconv.Itoa(g2() + len(os.Args[:0]))')
        self.assertEqual(v, "2")
        # A bad import after a declaration is reported on its own line.
        text, _ = self.error('var a3 = 3\nimport "no/such/pkg"\na3', "CompileError")
        self.assertRegex(text, r"cell \d+, line 2")

    def test_functions_use_same_cell_variables_of_named_types(self):
        v, _ = self.ok("ctx := context.Background()\nfunc fctx() context.Context { return ctx }\nfctx() == ctx")
        self.assertEqual(v, "true")
        v, _ = self.ok("d := time.Second\nfunc fd() time.Duration { return 2 * d }\nfd()")
        self.assertEqual(v, "2s")
        v, _ = self.ok('var sb strings.Builder\nfunc fsb() int { sb.WriteString("ab"); return sb.Len() }\nfsb()')
        self.assertEqual(v, "2")
        self.ok("type pair struct{ A, B int64 }")
        v, _ = self.ok("sv := pair{A: 3}\nfunc h() int64 { return sv.A }\nh()")
        self.assertEqual(v, "3")
        # …and later cells see the same variables.
        self.assertEqual(self.ok("sv.A = 5; h()")[0], "5")
        self.assertEqual(self.ok("fsb()")[0], "4")

    def test_struct_field_of_a_package_used_nowhere_else(self):
        self.ok("type withDur struct{ D time.Duration }")
        self.assertEqual(self.ok("withDur{D: 3 * time.Second}.D.String()")[0], "3s")
        self.ok("type hidden struct{ d time.Duration }\nfunc (h hidden) twice() time.Duration { return 2 * h.d }")
        self.assertEqual(self.ok("hidden{d: time.Second}.twice()")[0], "2s")
        # What is still an error names the cell and line, never a temp path.
        text, _ = self.error("type withDur2 struct{ D time.Duration }\nvar bad withDur2 = 3", "CompileError")
        self.assertRegex(text, r"cell \d+, line 2")
        self.assertNotIn("/tmp", text)
        self.assertNotIn(".go:", text)

    def test_init_runs_when_the_cell_loads(self):
        _, out = self.ok('inits := 0\nfunc init() { fmt.Println("init ran") }\nfunc init() { fmt.Println("second init") }\nfmt.Println("body")')
        self.assertEqual(stream_text(out), "init ran\nsecond init\nbody\n", "init functions run first, in order")
        text, _ = self.error('func init() {\n\tvar m map[string]int\n\tm["x"] = 1\n}', "panic")
        self.assertIn("assignment to entry in nil map", text)
        self.assertRegex(text, r"cell \d+, line 3")
        self.assertEqual(self.ok("1 + 1")[0], "2")

    def test_method_on_an_earlier_cells_type_says_what_to_do(self):
        self.ok("type celsius float64")
        text, _ = self.error("func (c celsius) F() float64 { return float64(c)*9/5 + 32 }", "CompileError")
        self.assertIn("declared in cell", text)
        self.assertIn("run that cell again with the method added", text)
        # Doing what it says works.
        self.ok("type celsius float64\nfunc (c celsius) F() float64 { return float64(c)*9/5 + 32 }")
        self.assertEqual(self.ok("celsius(100).F()")[0], "212")

    def test_bare_display_as_gophernotes_writes_it(self):
        _, out = self.ok('Display(display.Markdown("* hello"))')
        shown = [m["content"]["data"] for m in out if m["msg_type"] == "display_data"]
        self.assertEqual(shown, [{"text/markdown": "* hello", "text/plain": "* hello"}])
        _, out = self.ok('func showAll() { Display(display.HTML("<b>x</b>")) }\nshowAll()')
        self.assertEqual([m["content"]["data"]["text/html"] for m in out if m["msg_type"] == "display_data"], ["<b>x</b>"])
        # A cell may still declare its own Display.
        self.assertEqual(self.ok("func Display(v any) string { return fmt.Sprint(\"mine \", v) }\nDisplay(1)")[0], "mine 1")

    def test_is_complete(self):
        for code, status in [
            ("if x := 1; {", "invalid"),
            ("if x := 1; {\n\tfmt.Println(x)", "invalid"),
            ("for i := 0; i < 3; i++ {", "incomplete"),
            ("go func() {", "incomplete"),
            ("x := []int{1, 2,", "incomplete"),
            ("x := 1", "complete"),
        ]:
            reply = shell_reply(self.kc, self.kc.is_complete(code), 30)["content"]
            self.assertEqual(reply["status"], status, (code, reply))


class GophernotesNotebook(unittest.TestCase):
    def test_display_notebook_runs_unchanged(self):
        # The code cells of gophernotes' examples/Display.ipynb that need no
        # files or network.
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell('display.HTML(`<h1 style="color:green;">Hello, World</h1>`)'),
            nbformat.v4.new_code_cell('{\n    Display(display.Markdown("* hello from markdown"))\n    Display(display.Math(`e^{i\\Pi}+1=0`))\n}'),
        ]
        NotebookClient(nb, timeout=600, kernel_name=KERNEL).execute()
        first, second = nb.cells[0].outputs, nb.cells[1].outputs
        self.assertEqual(first[0]["data"]["text/html"], '<h1 style="color:green;">Hello, World</h1>')
        self.assertEqual([o["output_type"] for o in second], ["display_data", "display_data"])
        self.assertEqual(second[0]["data"]["text/markdown"], "* hello from markdown")
        self.assertIn("e^{i\\Pi}+1=0", second[1]["data"]["text/latex"])


class StdinWithoutFrontEnd(unittest.TestCase):
    """Issue 9.5: nbclient (allow_stdin false) runs a notebook that reads stdin to its end."""

    def test_nbclient_runs_past_a_cell_that_reads_stdin(self):
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell('var name string\nfmt.Scanln(&name)\nfmt.Printf("[%s]\\n", name)'),
            nbformat.v4.new_code_cell('fmt.Println("after")'),
        ]
        NotebookClient(nb, timeout=600, kernel_name=KERNEL).execute()  # raises on a cell error
        out = nb.cells[0].outputs
        self.assertEqual("".join(o["text"] for o in out if o.get("name") == "stdout"), "[]\n")
        self.assertIn("allow_stdin is false", "".join(o["text"] for o in out if o.get("name") == "stderr"))
        self.assertEqual(nb.cells[1].outputs[0]["text"], "after\n")


class ErrorsGoWhereTheySay(CellTestCase):
    """Issue 11.6, compiled and evaluated cells alike."""

    def test_os_exit_ends_the_cell_whatever_recovers(self):
        code = ('func risky() string {\n\tdefer func() { recover() }()\n\tos.Exit(3)\n\tfmt.Println("after os.Exit")\n\treturn "after"\n}\n'
                'r := risky()\nfmt.Println("still running", r)')
        text, out = self.error(code, "Exit")
        self.assertIn("os.Exit(3)", text)
        self.assertNotIn("after", stream_text(out))
        # Called from an evaluated cell, the same.
        text, out = self.error('fmt.Println(risky())', "Exit")
        self.assertEqual(stream_text(out), "")
        self.assertEqual(self.ok("2 + 2")[0], "4")

    def test_goroutine_panic_after_its_cell_is_reported_once_and_fails_nothing(self):
        started = self.kc.execute('late := map[string]int(nil)\ngo func() { time.Sleep(700 * time.Millisecond); late["x"] = 1 }()')
        # Everything IOPub says about that cell, before and after it ends.
        deadline, seen, idle = time.monotonic() + CELL_TIMEOUT, [], False
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=3 if idle else deadline - time.monotonic())
            except Empty:
                break
            if msg["parent_header"].get("msg_id") != started:
                continue
            seen.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        self.assertEqual(shell_reply(self.kc, started)["content"]["status"], "ok")
        stderr = stream_text(seen, "stderr")
        self.assertEqual(stderr.count("panicked"), 1, stderr)
        self.assertIn("assignment to entry in nil map", stderr)
        self.assertRegex(stderr, r"started by cell \d+, which has ended")
        content, out = self.cell("3 * 3")
        self.assertEqual(content["status"], "ok", content)
        self.assertEqual(value_of(out), "9")
        self.assertNotIn("panic", stream_text(out, "stderr"))

    def test_goexit_and_exit_in_a_goroutine_are_named(self):
        text, _ = self.error("runtime.Goexit()", "Goexit")
        self.assertIn("runtime.Goexit", text)
        self.assertNotIn("os.Exit", text)
        text, out = self.error('go func() { os.Exit(4) }()\ntime.Sleep(2 * time.Second)\nfmt.Println("not reached")', "Exit")
        self.assertIn("os.Exit(4) was called in a goroutine", text)
        self.assertNotIn("not reached", stream_text(out))
        # A goroutine's runtime.Goexit ends it quietly, as in Go.
        _, out = self.ok('done := make(chan bool)\ngo func() { defer close(done); runtime.Goexit() }()\n<-done\nfmt.Println("ok")')
        self.assertEqual(stream_text(out), "ok\n")

    def test_kill_while_idle_is_announced(self):
        self.ok("kept := 41")
        self.assertEqual(self.ok("kept++; kept")[0], "42")
        session = session_processes(self.km.provisioner.process.pid)
        self.assertEqual(len(session), 1, session)
        os.kill(session[0], signal.SIGKILL)
        time.sleep(1)
        v, out = self.ok("kept")
        self.assertEqual(v, "0")
        notice = stream_text(out, "stderr")
        self.assertIn("session restarted", notice)
        self.assertIn("signal: killed", notice)
        self.assertIn("values", notice)
        # Said once.
        _, out = self.ok("kept")
        self.assertNotIn("restarted", stream_text(out, "stderr"))
        # A library's goroutine (a timer's) panicking between cells ends the
        # process; the next cell says so, and why.
        self.ok('kept = 7\ntime.AfterFunc(300*time.Millisecond, func() { panic("from a timer") })')
        time.sleep(2)
        v, out = self.ok("kept")
        self.assertEqual(v, "0")
        notice = stream_text(out, "stderr")
        self.assertIn("session restarted", notice)
        self.assertIn("from a timer", notice)


class FirstCompiledCell(unittest.TestCase):
    def test_first_compiled_cell_links_directly(self):
        with tempfile.TemporaryFile("w+") as log:
            km = KernelManager(kernel_name=KERNEL)
            km.start_kernel(stderr=log, env=dict(os.environ, IPCLAB_DEBUG="1"))
            kc = km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=60)
                reply, _ = run(kc, "func first() int { return 1 }\nfirst()")
                self.assertEqual(reply["content"]["status"], "ok", reply["content"])
                drain(kc)
            finally:
                stop_kernel(km, kc)
            log.seek(0)
            text = log.read()
        self.assertNotIn("direct build failed", text)
        self.assertRegex(text, r'msg="cell built" cell="cell \d+" direct=true')


if __name__ == "__main__":
    unittest.main()
