"""Protocol behaviour of the ipclab kernel that jupyter_kernel_test does not
cover, through jupyter_client with real Go cells. Run by
tests/jupyter_test.go (go test ./tests/).
"""

import os
import re
import signal
import time
import unittest
from queue import Empty

from jupyter_client.session import Session

from ipclab_testing import (
    CELL_TIMEOUT,
    drain,
    outputs_of,
    run,
    shell_reply,
    start_kernel,
    stop_kernel,
    stream_text,
    strip_ansi,
    wait_for_stream,
)


class KernelTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_kernel()

    @classmethod
    def tearDownClass(cls):
        stop_kernel(cls.km, cls.kc)

    def setUp(self):
        drain(self.kc)

    def control(self, msg_type, content=None):
        msg = self.kc.session.msg(msg_type, content or {})
        self.kc.control_channel.send(msg)
        return msg["header"]["msg_id"]

    def assertAlive(self):
        reply, out = run(self.kc, 'fmt.Println("alive")')
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertEqual(stream_text(out), "alive\n")


class ControlChannel(KernelTestCase):
    def test_kernel_info_on_control(self):
        msg_id = self.control("kernel_info_request")
        reply = shell_reply(self.kc, msg_id, timeout=10, channel="control")
        self.assertEqual(reply["msg_type"], "kernel_info_reply")
        info = reply["content"]
        self.assertEqual(info["implementation"], "ipclab")
        self.assertGreaterEqual(tuple(map(int, info["protocol_version"].split("."))), (5, 3))
        self.assertEqual(info["language_info"]["name"], "go")
        self.assertEqual(info["language_info"]["mimetype"], "text/x-go")
        self.assertEqual(info["language_info"]["codemirror_mode"], "go")
        with self.assertRaises(Empty):  # not (also) on shell
            self.kc.get_shell_msg(timeout=0.5)

    def test_interrupt_infinite_loop(self):
        msg_id = self.kc.execute('fmt.Println("looping")\nfor {\n}')
        wait_for_stream(self.kc, msg_id, "looping")
        start = time.monotonic()
        iid = self.control("interrupt_request")
        ireply = shell_reply(self.kc, iid, timeout=10, channel="control")
        self.assertEqual(ireply["msg_type"], "interrupt_reply")
        self.assertEqual(ireply["content"]["status"], "ok")
        outputs_of(self.kc, msg_id, timeout=10, busy_seen=True)  # up to status idle
        took = time.monotonic() - start
        reply = shell_reply(self.kc, msg_id, timeout=10)
        print("interrupt to idle: %.3fs" % took)
        # The design asks for control back within 1 s; 0.5 s more for a
        # loaded two-core CI machine.
        self.assertLess(took, 1.5)
        self.assertEqual(reply["content"]["status"], "error", reply["content"])
        self.assertAlive()

    def test_sigint_interrupts_instead_of_exiting(self):
        msg_id = self.kc.execute('fmt.Println("looping")\nfor {\n}')
        wait_for_stream(self.kc, msg_id, "looping")
        os.kill(self.km.provisioner.process.pid, signal.SIGINT)
        outputs_of(self.kc, msg_id, timeout=10, busy_seen=True)
        reply = shell_reply(self.kc, msg_id, timeout=10)
        self.assertEqual(reply["content"]["status"], "error", reply["content"])
        self.assertTrue(self.km.is_alive())
        self.assertAlive()


class Stdin(KernelTestCase):
    code = 'var s string\nfmt.Scanln(&s)\nfmt.Println("got", s)'

    def test_input_round_trip(self):
        msg_id = self.kc.execute(self.code, allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=CELL_TIMEOUT)
        self.assertEqual(req["msg_type"], "input_request")
        self.assertEqual(req["parent_header"]["msg_id"], msg_id)
        self.assertFalse(req["content"]["password"])
        self.kc.input("gopher")
        out = outputs_of(self.kc, msg_id)
        reply = shell_reply(self.kc, msg_id)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertIn("got gopher", stream_text(out))

    def test_no_stdin_does_not_hang(self):
        reply, out = run(self.kc, self.code, allow_stdin=False)
        with self.assertRaises(Empty):
            self.kc.get_stdin_msg(timeout=0.5)
        # The read gets an empty line, stderr says why, and the cell goes on
        # (README rule 15), so that nbclient runs such a notebook to its end.
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        self.assertIn("allow_stdin", stream_text(out, "stderr"))
        self.assertIn("got", stream_text(out))


class Messages(KernelTestCase):
    def test_bad_signature_is_ignored(self):
        bad = Session(key=b"definitely-not-the-key", username="intruder")
        bad.send(self.kc.shell_channel.socket, "kernel_info_request", {})
        with self.assertRaises(Empty):
            self.kc.get_shell_msg(timeout=1)
        msg_id = self.kc.kernel_info()
        self.assertEqual(shell_reply(self.kc, msg_id, timeout=10)["msg_type"], "kernel_info_reply")

    def test_comm_info(self):
        msg_id = self.kc.comm_info()
        self.assertEqual(shell_reply(self.kc, msg_id, 10)["content"], {"status": "ok", "comms": {}})
        msg_id = self.kc.comm_info(target_name="jupyter.widget")
        self.assertEqual(shell_reply(self.kc, msg_id, 10)["content"]["comms"], {})

    def test_comm_open_unknown_target_is_closed(self):
        msg = self.kc.session.msg("comm_open", {"comm_id": "c-1", "target_name": "no.such.target", "data": {}})
        self.kc.shell_channel.send(msg)
        out = outputs_of(self.kc, msg["header"]["msg_id"], timeout=10)
        self.assertEqual([m["msg_type"] for m in out], ["comm_close"])
        self.assertEqual(out[0]["content"]["comm_id"], "c-1")
        for typ in ("comm_msg", "comm_close"):
            msg = self.kc.session.msg(typ, {"comm_id": "unknown", "data": {}})
            self.kc.shell_channel.send(msg)
            self.assertEqual(outputs_of(self.kc, msg["header"]["msg_id"], timeout=10), [])

    def test_history(self):
        codes = ["h1 := 1", "h2 := h1 + 1", "h2 * 10"]
        for code in codes:
            run(self.kc, code)
        msg_id = self.kc.history(hist_access_type="tail", n=3, output=False, raw=True)
        hist = shell_reply(self.kc, msg_id, 10)["content"]["history"]
        self.assertEqual([h[2] for h in hist], codes)
        msg_id = self.kc.history(hist_access_type="search", pattern="h? := *", output=False, raw=True)
        hist = shell_reply(self.kc, msg_id, 10)["content"]["history"]
        self.assertEqual([h[2] for h in hist], codes[:2])
        msg_id = self.kc.history(hist_access_type="tail", n=1, output=True, raw=True)
        hist = shell_reply(self.kc, msg_id, 10)["content"]["history"]
        self.assertEqual(hist[0][2], ["h2 * 10", "20"])

    def test_is_complete(self):
        for code, status in [
            ("x := 1", "complete"),
            ("func f() {", "incomplete"),
            ("if true {\n\tfmt.Println(1)", "incomplete"),
            ("x := )", "invalid"),
        ]:
            msg_id = self.kc.is_complete(code)
            reply = shell_reply(self.kc, msg_id, 30)["content"]
            self.assertEqual(reply["status"], status, (code, reply))
            if status == "incomplete":
                self.assertIn("indent", reply)


class Errors(KernelTestCase):
    def test_panic_names_cell_and_line(self):
        code = 'x := 2\nif x > 1 {\n\tpanic("boom")\n}'
        reply, out = run(self.kc, code)
        content = reply["content"]
        self.assertEqual(content["status"], "error")
        n = content["execution_count"]
        tb = strip_ansi("\n".join(content["traceback"]))
        self.assertIn("cell %d, line 3" % n, tb)
        self.assertIn('panic("boom")', tb)
        errors = [m for m in out if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["content"]["ename"], content["ename"])

    def test_os_exit(self):
        reply, out = run(self.kc, "os.Exit(3)")
        self.assertEqual(reply["content"]["status"], "error", reply["content"])
        self.assertIn("3", reply["content"]["evalue"] + strip_ansi("".join(reply["content"]["traceback"])))
        self.assertAlive()

    def test_panic_in_goroutine(self):
        reply, out = run(self.kc, 'go func() { panic("in a goroutine") }()\ntime.Sleep(200 * time.Millisecond)')
        self.assertEqual(reply["content"]["status"], "error", reply["content"])
        self.assertIn("in a goroutine", strip_ansi(reply["content"]["evalue"] + "".join(reply["content"]["traceback"])))
        self.assertTrue(self.km.is_alive())
        self.assertAlive()


class Volume(KernelTestCase):
    def test_ten_megabytes_of_output(self):
        code = 'line := strings.Repeat("x", 1023) + "\\n"\nfor i := 0; i < 10240; i++ {\n\tfmt.Print(line)\n}'
        reply, out = run(self.kc, code)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        text = stream_text(out)
        self.assertEqual(len(text), 10 << 20)
        self.assertEqual(text.count("\n"), 10240)
        self.assertEqual(set(text), {"x", "\n"})
        streams = [m for m in out if m["msg_type"] == "stream"]
        self.assertLess(len(streams), 10240 // 8, "output was not batched")
        # The kernel must not hold the whole output: its peak resident set
        # stays well under ten times the output.
        peak = vm_hwm_kib(self.km.provisioner.process.pid)
        print("kernel peak RSS after 10 MiB of output: %d MiB" % (peak // 1024))
        self.assertLess(peak, 100 << 10)

    def test_two_hundred_cells(self):
        reply, _ = run(self.kc, "acc := 0")
        first = reply["content"]["execution_count"]
        for i in range(200):
            reply, out = run(self.kc, "acc += %d\nacc" % i)
            self.assertEqual(reply["content"]["status"], "ok", (i, reply["content"]))
            self.assertEqual(reply["content"]["execution_count"], first + i + 1)
        result = [m for m in out if m["msg_type"] == "execute_result"]
        self.assertEqual(result[0]["content"]["data"]["text/plain"], str(sum(range(200))))
        msg_id = self.kc.history(hist_access_type="tail", n=201, output=False, raw=True)
        hist = shell_reply(self.kc, msg_id, 10)["content"]["history"]
        self.assertEqual(len(hist), 201)


class Shutdown(unittest.TestCase):
    def test_shutdown_on_control(self):
        km, kc = start_kernel()
        try:
            msg = kc.session.msg("shutdown_request", {"restart": True})
            kc.control_channel.send(msg)
            reply = shell_reply(kc, msg["header"]["msg_id"], 10, channel="control")
            self.assertEqual(reply["msg_type"], "shutdown_reply")
            self.assertEqual(reply["content"], {"status": "ok", "restart": True})
            while True:  # also broadcast on IOPub (protocol 5.4)
                m = kc.get_iopub_msg(timeout=10)
                if m["msg_type"] == "shutdown_reply":
                    break
            deadline = time.monotonic() + 10
            while km.is_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertFalse(km.is_alive(), "the kernel did not exit after shutdown_reply")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1))


if __name__ == "__main__":
    unittest.main()
