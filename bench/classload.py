#!/usr/bin/python3
"""A class's load on one machine: N students, one ipclab kernel each.

For each N (default 5, 10, 20, 40) it starts N kernels at once through
jupyter_client (Debian's /usr/bin/python3), and every student runs a short
notebook at the same time: three quick cells (evaluated, no build), one
compiled cell, and a 200 ms cross-process experiment (shm-ring and pipe,
every message verified), then one completion request (which starts gopls).
It reports per N whether all completed, cell latency p50/p95 for quick and
compiled cells, memory per idle kernel (kernel + session process + gopls,
RSS and PSS), failures and lost/corrupt messages, and the machine's load.

Kernels are started directly, not through JupyterHub: what is measured is
ipclab's share of a class (the hub's single-user servers add a fixed
amount per student, measured separately by the hub test); and all kernels
run as the invoking user, so they share one warm Go build cache (a real
class pays one cold build per student, once).

    make class-load                        # N = 5 10 20 40
    /usr/bin/python3 bench/classload.py --students 5 10 --kernel ipclab
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time

from jupyter_client.manager import KernelManager

# The kernels stop gopls this long after the completion request, so that
# memory is measured both with gopls and idle.
GOPLS_IDLE = 20
os.environ["IPCLAB_GOPLS_IDLE"] = "%ds" % GOPLS_IDLE

QUICK = ["x := 20", "x++; x", 'fmt.Println("x is", x)']
COMPILED = "func sum(n int) int { s := 0; for i := 0; i < n; i++ { s += i }; return s }\nsum(x)"
EXPERIMENT = r'''results, err := ipc.Run(context.Background(), ipc.Experiment{
	Transports: []string{"shm-ring", "pipe"},
	Sizes:      []int{4096},
	Duration:   200 * time.Millisecond,
	Trials:     1,
})
if err != nil { panic(err) }
for _, r := range results { fmt.Printf("RESULT %s %d %d %d\n", r.Transport, r.Messages, r.Lost, r.Corrupt) }'''


def run_cell(kc, code, timeout):
    t0 = time.monotonic()
    msg_id = kc.execute(code)
    out, status, result = "", None, None
    deadline = t0 + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.01))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        t = msg["msg_type"]
        if t == "stream":
            out += msg["content"]["text"]
        elif t == "execute_result":
            result = msg["content"]["data"].get("text/plain")
        elif t == "error":
            out += "ERROR %s: %s\n" % (msg["content"]["ename"], msg["content"]["evalue"])
        elif t == "status" and msg["content"]["execution_state"] == "idle":
            break
    while True:
        reply = kc.get_shell_msg(timeout=max(deadline - time.monotonic(), 0.01))
        if reply["parent_header"].get("msg_id") == msg_id:
            status = reply["content"]["status"]
            break
    return status, out, result, time.monotonic() - t0


def complete(kc, code, timeout):
    msg_id = kc.complete(code, len(code))
    deadline = time.monotonic() + timeout
    while True:
        reply = kc.get_shell_msg(timeout=max(deadline - time.monotonic(), 0.01))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"].get("matches", [])


class Student(threading.Thread):
    def __init__(self, i, kernel, timeout):
        super().__init__(daemon=True)
        self.i, self.kernel, self.timeout = i, kernel, timeout
        self.first, self.quick, self.compiled = [], [], []
        self.failures, self.lost, self.corrupt, self.messages = [], 0, 0, 0
        self.km = self.kc = None
        self.done = False

    def run(self):
        try:
            self.km = KernelManager(kernel_name=self.kernel)
            self.km.start_kernel()
            self.kc = self.km.client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=self.timeout)
            for i, code in enumerate(QUICK):
                st, out, res, dt = run_cell(self.kc, code, self.timeout)
                # The first cell also waits for the session process to start.
                (self.first if i == 0 else self.quick).append(dt)
                if st != "ok":
                    self.failures.append("quick %r: %s" % (code, out))
            st, out, res, dt = run_cell(self.kc, COMPILED, self.timeout)
            self.compiled.append(dt)
            if st != "ok" or res != "210":
                self.failures.append("compiled: %s %s %r" % (st, out, res))
            st, out, res, dt = run_cell(self.kc, EXPERIMENT, self.timeout)
            rows = [l.split() for l in out.splitlines() if l.startswith("RESULT ")]
            if st != "ok" or len(rows) != 2:
                self.failures.append("experiment: %s %s" % (st, out[-500:]))
            for _, tr, msgs, lost, corrupt in rows:
                self.messages += int(msgs)
                self.lost += int(lost)
                self.corrupt += int(corrupt)
            if "Println" not in complete(self.kc, "fmt.Pri", self.timeout):
                self.failures.append("completion of fmt.Pri found no Println")
            self.done = not self.failures
        except Exception as e:  # a failure of this student, reported
            self.failures.append("%s: %s" % (type(e).__name__, e))

    def stop(self):
        try:
            if self.kc is not None:
                self.kc.stop_channels()
            if self.km is not None and self.km.has_kernel:
                self.km.shutdown_kernel(now=False)
        except Exception as e:
            self.failures.append("shutdown: %s" % e)


def tree(pid):
    """pid and all its descendants."""
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def memory(pid):
    """RSS and PSS in KiB of one process, and its name."""
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
        with open("/proc/%d/comm" % pid) as f:
            name = f.read().strip()
    except OSError:
        return 0, 0, "?"
    return rss, pss, name


def pct(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v.split()[0])
    return out


def one_level(n, kernel, timeout):
    load0 = os.getloadavg()
    avail0 = meminfo()["MemAvailable"]
    students = [Student(i, kernel, timeout) for i in range(n)]
    t0 = time.monotonic()
    for s in students:
        s.start()
    for s in students:
        s.join(timeout * 8)
    wall = time.monotonic() - t0
    time.sleep(5)  # idle, gopls still running after the completion
    with_gopls = measure(students)
    avail1 = meminfo()["MemAvailable"]
    time.sleep(GOPLS_IDLE + 5)  # gopls stopped for idling
    idle = measure(students)
    load1 = os.getloadavg()
    for s in students:
        s.stop()
    quick = [x for s in students for x in s.quick]
    first = [x for s in students for x in s.first]
    compiled = [x for s in students for x in s.compiled]
    return {
        "students": n,
        "completed": sum(s.done for s in students),
        "wall_s": round(wall, 1),
        "first_p50_s": round(pct(first, .5), 2), "first_p95_s": round(pct(first, .95), 2),
        "quick_p50_ms": round(pct(quick, .5) * 1000), "quick_p95_ms": round(pct(quick, .95) * 1000),
        "compiled_p50_s": round(pct(compiled, .5), 2), "compiled_p95_s": round(pct(compiled, .95), 2),
        "idle": idle, "after_completion": with_gopls,
        "mem_used_by_class_mb": round((avail0 - avail1) / 1024),
        "messages": sum(s.messages for s in students),
        "lost": sum(s.lost for s in students), "corrupt": sum(s.corrupt for s in students),
        "failures": [f for s in students for f in s.failures],
        "load_before": [round(x, 1) for x in load0], "load_after": [round(x, 1) for x in load1],
    }


def measure(students):
    """Median RSS and PSS (MB) of a kernel with its session process and
    gopls, and of each part."""
    per_kernel, parts = [], {}
    for s in students:
        if s.km is None or not s.km.has_kernel:
            continue
        pid = s.km.provisioner.process.pid
        rss = pss = 0
        for p in tree(pid):
            r, ps, name = memory(p)
            rss, pss = rss + r, pss + ps
            key = "kernel" if p == pid else ("gopls" if name == "gopls" else ("session" if name.startswith("session") else name))
            parts.setdefault(key, []).append((r, ps))
        per_kernel.append((rss, pss))
    if not per_kernel:
        return {}
    return {
        "rss_mb": round(statistics.median([r for r, _ in per_kernel]) / 1024),
        "pss_mb": round(statistics.median([p for _, p in per_kernel]) / 1024),
        "parts_rss_mb": {k: round(statistics.median([r for r, _ in v]) / 1024) for k, v in parts.items()},
        "parts_pss_mb": {k: round(statistics.median([p for _, p in v]) / 1024) for k, v in parts.items()},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, nargs="+", default=[5, 10, 20, 40])
    ap.add_argument("--kernel", default=os.environ.get("IPCLAB_KERNEL_NAME", "ipclab"))
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", help="write the rows to this file too")
    a = ap.parse_args()
    mem = meminfo()
    print("machine: %d CPUs, %.1f GiB RAM, open files limit %s, pid_max %s" % (
        os.cpu_count(), mem["MemTotal"] / 2**20, os.sysconf("SC_OPEN_MAX"),
        open("/proc/sys/kernel/pid_max").read().strip()), flush=True)
    # One student first, not reported: a new ipclab build links its session
    # program and prelude once per machine (README, Performance).
    print("== warming up: one student", flush=True)
    warm = one_level(1, a.kernel, a.timeout)
    if warm["failures"]:
        print("warm-up failed: %s" % warm["failures"], flush=True)
        return 1
    rows = []
    for n in a.students:
        print("== %d students" % n, flush=True)
        row = one_level(n, a.kernel, a.timeout)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(rows, f, indent=1)
        if row["completed"] < n:
            print("stopping the ramp: %d of %d students did not complete" % (n - row["completed"], n), flush=True)
            break
        if meminfo()["MemAvailable"] < 2 * (row["mem_used_by_class_mb"] or 0) * 1024:
            print("stopping the ramp: not enough memory for twice the class", flush=True)
            break
    print()
    print("| students | completed | first cell p50 / p95 | quick cell p50 / p95 | compiled cell p50 / p95 | idle kernel RSS / PSS | with gopls RSS / PSS | lost / corrupt of messages | failures | load before → after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        i, g = r["idle"], r["after_completion"]
        print("| %d | %d | %.1f / %.1f s | %d / %d ms | %.2f / %.2f s | %s / %s MB | %s / %s MB | %d / %d of %d | %d | %s → %s |" % (
            r["students"], r["completed"], r["first_p50_s"], r["first_p95_s"], r["quick_p50_ms"], r["quick_p95_ms"], r["compiled_p50_s"], r["compiled_p95_s"],
            i.get("rss_mb"), i.get("pss_mb"), g.get("rss_mb"), g.get("pss_mb"), r["lost"], r["corrupt"], r["messages"], len(r["failures"]),
            r["load_before"][0], r["load_after"][0]))


if __name__ == "__main__":
    sys.exit(main())
