"""Kernel latency through a real Jupyter client: start time and trivial-cell latency.

Run with Debian's Python after `make install` (JUPYTER_PATH pointing at the spec):
    /usr/bin/python3 bench/kernel_latency.py [--cells 30]
It prints the median, p90 and max of execute_request -> status idle for a trivial
cell, and the time from launching the kernel to its kernel_info reply and to the
first cell's idle. Timing is reported, never asserted.
"""
import argparse
import statistics
import time

from jupyter_client.manager import start_new_kernel


def run(kc, code):
    start = time.perf_counter()
    msg_id = kc.execute(code)
    while True:
        msg = kc.get_iopub_msg(timeout=300)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "error":
            raise RuntimeError(msg["content"]["evalue"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=30)
    ap.add_argument("--kernel", default="ipclab")
    args = ap.parse_args()

    t0 = time.perf_counter()
    km, kc = start_new_kernel(kernel_name=args.kernel, startup_timeout=300)
    ready = time.perf_counter() - t0
    try:
        first = run(kc, "x := 1")
        samples = [run(kc, "x") for _ in range(args.cells)]
        samples.sort()
        p90 = samples[int(0.9 * (len(samples) - 1))]
        print(f"kernel_info reply after start: {ready:.3f} s")
        print(f"first cell (x := 1) done after: {first:.3f} s")
        print(f"trivial cell `x`, {len(samples)} runs: median {statistics.median(samples):.3f} s, "
              f"p90 {p90:.3f} s, min {samples[0]:.3f} s, max {samples[-1]:.3f} s")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


if __name__ == "__main__":
    main()
