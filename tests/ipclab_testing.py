"""Helpers shared by the Python tests of the ipclab kernel.

The tests run with Debian's /usr/bin/python3, jupyter_client and
jupyter_kernel_test, against the kernel spec named by $IPCLAB_KERNEL_NAME
(default "ipclab"); tests/jupyter_test.go installs a freshly built ipclab
into a temporary prefix and points JUPYTER_PATH at it.
"""

import os
import re
import time
from queue import Empty

from jupyter_client.manager import start_new_kernel

KERNEL = os.environ.get("IPCLAB_KERNEL_NAME", "ipclab")

# A cell is compiled before it runs, and the first one builds the session
# program; on a loaded two-core machine that takes a while. These bound
# waits; nothing asserts on them.
CELL_TIMEOUT = float(os.environ.get("IPCLAB_CELL_TIMEOUT", "180"))

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text):
    return _ANSI.sub("", text)


def start_kernel():
    """Start a kernel and wait until it has built its first cell."""
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=60)
    reply, _ = run(kc, 'fmt.Print("")')
    if reply["content"]["status"] != "ok":
        raise RuntimeError("warm-up cell failed: %r" % (reply["content"],))
    return km, kc


def stop_kernel(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=False)


def shell_reply(kc, msg_id, timeout=CELL_TIMEOUT, channel="shell"):
    """The reply to msg_id on channel, skipping replies to other requests."""
    get = kc.get_shell_msg if channel == "shell" else kc.get_control_msg
    deadline = time.monotonic() + timeout
    while True:
        msg = get(timeout=max(deadline - time.monotonic(), 0.01))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def outputs_of(kc, msg_id, timeout=CELL_TIMEOUT, busy_seen=False):
    """The IOPub messages for msg_id between status busy and idle (busy_seen:
    the caller has read the busy status already)."""
    deadline = time.monotonic() + timeout
    outputs, busy = [], busy_seen
    while True:
        msg = kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.01))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status":
            state = msg["content"]["execution_state"]
            if state == "busy":
                busy = True
            elif state == "idle":
                if not busy:
                    raise AssertionError("idle before busy for %s" % msg_id)
                return outputs
            continue
        outputs.append(msg)


def run(kc, code, timeout=CELL_TIMEOUT, **kwargs):
    """Execute code; return its execute_reply and IOPub output messages."""
    msg_id = kc.execute(code, **kwargs)
    outputs = outputs_of(kc, msg_id, timeout)
    return shell_reply(kc, msg_id, timeout), outputs


def stream_text(outputs, name="stdout"):
    return "".join(
        m["content"]["text"]
        for m in outputs
        if m["msg_type"] == "stream" and m["content"]["name"] == name
    )


def drain(kc):
    """Discard whatever is waiting on the shell, IOPub and control channels."""
    for get in (kc.get_shell_msg, kc.get_iopub_msg, kc.get_control_msg):
        while True:
            try:
                get(timeout=0.2)
            except Empty:
                break


def wait_for_stream(kc, msg_id, needle, timeout=CELL_TIMEOUT):
    """Read IOPub until msg_id's stdout contains needle; return the messages
    (status busy among them)."""
    deadline = time.monotonic() + timeout
    seen, text = [], ""
    while needle not in text:
        msg = kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.01))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg)
        if msg["msg_type"] == "stream":
            text += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            raise AssertionError("cell finished before printing %r: %r" % (needle, seen))
    return seen
