"""Kernel latency through a real Jupyter client: start time and trivial-cell latency.

Run with Debian's Python after `make install` (JUPYTER_PATH pointing at the spec):
    /usr/bin/python3 bench/kernel_latency.py [--cells 30]
For each kind of trivial cell it prints the median, p90, min and max of
execute_request -> status idle over --cells runs, interleaved, plus the time
from launching the kernel to its kernel_info reply and to the first cell's idle.
Cells that only declare variables, read, assign and call what is loaded are
evaluated in the session process; a cell with a function, a type or a loop is
compiled and linked as a plugin. Timing is reported, never asserted.
"""
import argparse
import statistics
import time

from jupyter_client.manager import start_new_kernel

SETUP = """import ("fmt"; "math")
type point struct{ x, y float64 }
func (p point) norm() float64 { return math.Hypot(p.x, p.y) }
x := 1
n := 0
p := point{3, 4}
var _ = fmt.Sprint"""

KINDS = [
    ("evaluated: x", lambda i: "x"),
    ("evaluated: n++; n", lambda i: "n++; n"),
    ("evaluated: p.norm()", lambda i: "p.norm()"),
    ("evaluated: fmt.Println(x, n)", lambda i: "fmt.Println(x, n)"),
    ("evaluated: y_i := x * 2", lambda i: f"y{i} := x * 2"),
    ("compiled:  func f_i() int { return x }", lambda i: f"func f{i}() int {{ return x }}"),
    ("compiled:  for loop over n", lambda i: "s := 0; for j := 0; j < n; j++ { s += j }; s"),
]


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
        first = run(kc, SETUP)
        print(f"kernel_info reply after start: {ready:.3f} s")
        print(f"first cell (declarations) done after: {first:.3f} s")
        samples = {name: [] for name, _ in KINDS}
        for i in range(args.cells):
            for name, code in KINDS:
                samples[name].append(run(kc, code(i)))
        for name, s in samples.items():
            s.sort()
            p90 = s[int(0.9 * (len(s) - 1))]
            print(f"{name:42s} {len(s)} runs: median {statistics.median(s):.3f} s, "
                  f"p90 {p90:.3f} s, min {s[0]:.3f} s, max {s[-1]:.3f} s")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)


if __name__ == "__main__":
    main()
