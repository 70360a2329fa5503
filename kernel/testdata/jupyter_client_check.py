"""The kernel's protocol layer against the real jupyter_client (pyzmq and
libzmq), with the scripted fake engine (kernel/testdata/fakeengine) so that
no Go cell is built. Run by TestJupyterClient in kernel/jupyter_test.go,
which installs the fake kernel as $IPCLAB_KERNEL_NAME.

Cells here are fake-engine scripts ("print x", "sleep", "input P", ...),
not Go.
"""

import os
import signal
import subprocess
import sys
import time
import unittest
from queue import Empty

import zmq

from jupyter_client.manager import start_new_kernel
from jupyter_client.session import Session

KERNEL = os.environ.get("IPCLAB_KERNEL_NAME", "ipclab-fake")
TIMEOUT = 20


class FakeKernelTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=False)

    def setUp(self):
        self.drain()

    def drain(self):
        for get in (self.kc.get_shell_msg, self.kc.get_iopub_msg, self.kc.get_control_msg, self.kc.get_stdin_msg):
            while True:
                try:
                    get(timeout=0.05)
                except Empty:
                    break

    def outputs(self, msg_id):
        out = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status":
                if msg["content"]["execution_state"] == "idle":
                    return out
                continue
            out.append(msg)

    def reply(self, msg_id, channel="shell"):
        get = self.kc.get_shell_msg if channel == "shell" else self.kc.get_control_msg
        while True:
            msg = get(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg

    def run_cell(self, code, **kw):
        msg_id = self.kc.execute(code, **kw)
        out = self.outputs(msg_id)
        return self.reply(msg_id), out

    def control(self, msg_type, content=None):
        msg = self.kc.session.msg(msg_type, content or {})
        self.kc.control_channel.send(msg)
        return msg["header"]["msg_id"]

    def test_kernel_info_on_control(self):
        msg_id = self.control("kernel_info_request")
        reply = self.reply(msg_id, "control")
        self.assertEqual(reply["msg_type"], "kernel_info_reply")
        self.assertEqual(reply["content"]["language_info"]["name"], "go")
        self.assertEqual(reply["content"]["protocol_version"], "5.4")
        with self.assertRaises(Empty):
            self.kc.get_shell_msg(timeout=0.3)

    def test_execute_and_output_order(self):
        reply, out = self.run_cell("print a\neprint b\ndisplay text/html <b>c</b>\nresult 42")
        self.assertEqual(reply["content"]["status"], "ok")
        kinds = [m["msg_type"] for m in out]
        self.assertEqual(kinds, ["execute_input", "stream", "stream", "display_data", "execute_result"])
        self.assertEqual(out[-1]["content"]["data"]["text/plain"], "42")

    def test_interrupt_on_control(self):
        msg_id = self.kc.execute("sleep")
        while True:
            m = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if m["msg_type"] == "execute_input" and m["parent_header"]["msg_id"] == msg_id:
                break
        start = time.monotonic()
        iid = self.control("interrupt_request")
        ireply = self.reply(iid, "control")
        self.assertEqual(ireply["msg_type"], "interrupt_reply")
        self.assertEqual(ireply["content"]["status"], "ok")
        reply = self.reply(msg_id)
        self.outputs(msg_id)
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        reply, _ = self.run_cell("print after")
        self.assertEqual(reply["content"]["status"], "ok")

    def test_sigint_interrupts_the_cell(self):
        msg_id = self.kc.execute("sleep")
        while True:
            m = self.kc.get_iopub_msg(timeout=TIMEOUT)
            if m["msg_type"] == "execute_input" and m["parent_header"]["msg_id"] == msg_id:
                break
        os.kill(self.km.provisioner.process.pid, signal.SIGINT)
        reply = self.reply(msg_id)
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        self.assertTrue(self.km.is_alive())
        reply, _ = self.run_cell("print still here")
        self.assertEqual(reply["content"]["status"], "ok")

    def test_stdin_round_trip(self):
        msg_id = self.kc.execute("input Your name: ", allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=TIMEOUT)
        self.assertEqual(req["msg_type"], "input_request")
        self.assertEqual(req["content"], {"prompt": "Your name: ", "password": False})
        self.assertEqual(req["parent_header"]["msg_id"], msg_id)
        self.kc.input("gopher")
        out = self.outputs(msg_id)
        self.assertEqual(self.reply(msg_id)["content"]["status"], "ok")
        self.assertIn("got gopher\n", "".join(m["content"].get("text", "") for m in out))

    def test_no_stdin(self):
        reply, _ = self.run_cell("input x", allow_stdin=False)
        self.assertEqual(reply["content"]["status"], "error")
        with self.assertRaises(Empty):
            self.kc.get_stdin_msg(timeout=0.2)

    def test_bad_signature_is_ignored(self):
        bad = Session(key=b"not-the-key", username="intruder")
        bad.send(self.kc.shell_channel.socket, "kernel_info_request", {})
        with self.assertRaises(Empty):
            self.kc.get_shell_msg(timeout=1)
        msg_id = self.kc.kernel_info()
        self.assertEqual(self.reply(msg_id)["msg_type"], "kernel_info_reply")

    def test_comm_info_and_unknown_comm(self):
        msg_id = self.kc.comm_info()
        self.assertEqual(self.reply(msg_id)["content"], {"status": "ok", "comms": {}})
        msg_id = self.kc.comm_info(target_name="jupyter.widget")
        self.assertEqual(self.reply(msg_id)["content"]["comms"], {})
        msg = self.kc.session.msg("comm_open", {"comm_id": "abc", "target_name": "nope", "data": {}})
        self.kc.shell_channel.send(msg)
        out = self.outputs(msg["header"]["msg_id"])
        self.assertEqual([m["msg_type"] for m in out], ["comm_close"])
        self.assertEqual(out[0]["content"]["comm_id"], "abc")

    def test_history(self):
        for code in ("result 1", "result 2", "print x"):
            self.run_cell(code)
        msg_id = self.kc.history(hist_access_type="tail", n=3, output=False, raw=True)
        hist = self.reply(msg_id)["content"]["history"]
        self.assertEqual([h[2] for h in hist], ["result 1", "result 2", "print x"])
        msg_id = self.kc.history(hist_access_type="search", pattern="result ?", unique=True, output=True, raw=True)
        hist = self.reply(msg_id)["content"]["history"]
        self.assertTrue(all(h[2][0].startswith("result ") and len(h[2]) == 2 for h in hist), hist)

    def test_ten_megabytes(self):
        n, size = 2560, 4096
        reply, out = self.run_cell("write %d %d" % (n, size))
        self.assertEqual(reply["content"]["status"], "ok")
        text = "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream")
        self.assertEqual(len(text), n * size)
        self.assertLess(len(out), n // 4)

    def test_heartbeat(self):
        # kc.is_alive() asks the KernelManager about the process; talk to
        # the heartbeat socket itself, from two clients at once.
        ctx = zmq.Context.instance()
        socks = []
        try:
            for _ in range(2):
                s = ctx.socket(zmq.REQ)
                s.linger = 0
                s.connect("tcp://%s:%d" % (self.km.ip, self.km.hb_port))
                socks.append(s)
            for i, s in enumerate(socks):
                s.send(b"ping %d" % i)
            for i, s in enumerate(socks):
                self.assertTrue(s.poll(TIMEOUT * 1000), "no heartbeat echo")
                self.assertEqual(s.recv(), b"ping %d" % i)
        finally:
            for s in socks:
                s.close()


class LifecycleTests(unittest.TestCase):
    def test_shutdown_on_control(self):
        km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=30)
        try:
            msg = kc.session.msg("shutdown_request", {"restart": False})
            kc.control_channel.send(msg)
            reply = kc.get_control_msg(timeout=TIMEOUT)
            self.assertEqual(reply["msg_type"], "shutdown_reply")
            self.assertEqual(reply["content"], {"status": "ok", "restart": False})
            seen = []
            while True:
                m = kc.get_iopub_msg(timeout=TIMEOUT)
                seen.append(m["msg_type"])
                if m["msg_type"] == "shutdown_reply":
                    break
            deadline = time.monotonic() + 10
            while km.is_alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertFalse(km.is_alive(), "the kernel did not exit after shutdown_reply")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    def test_exits_when_jupyter_dies(self):
        code = (
            "import sys, time\n"
            "from jupyter_client.manager import KernelManager\n"
            "km = KernelManager(kernel_name=%r)\n"
            "km.start_kernel()\n"
            "print(km.provisioner.process.pid, flush=True)\n"
            "time.sleep(120)\n" % KERNEL
        )
        parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=os.environ)
        try:
            pid = int(parent.stdout.readline())
        finally:
            parent.kill()
            parent.wait()
            parent.stdout.close()
        deadline = time.monotonic() + 15
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            self.fail("the kernel outlived the process that started it")


def alive(pid):
    """Whether pid runs (a zombie, exited but not reaped, does not)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except FileNotFoundError:
        return False
    return True


if __name__ == "__main__":
    unittest.main()
