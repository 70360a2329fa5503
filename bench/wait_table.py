"""Ring wait strategies from a notebook and from the command line, quiet and
with one core busy: the table in ipc/README.md ("Waiting under load").

Run with Debian's Python after `make install` (JUPYTER_PATH pointing at the
spec), from the repository root:
    /usr/bin/python3 bench/wait_table.py [--duration 300ms] [--rounds 1]
For each condition (quiet; a spinning `nice -n 10` process started here on
one core), it runs shm-ring ping-pong at 64 B and 64 KiB with each wait
strategy, once through a real kernel (a notebook cell calling ipc.Run) and
once through `ipclab bench`, and prints p50 round-trip times and the spread
of the 64 B stream. Timing is reported, never asserted.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from jupyter_client.manager import start_new_kernel

WAITS = ["spin", "yield", "futex", "adaptive"]
SIZES = [64, 64 << 10]

CELL = """import ("context"; "encoding/json"; "fmt"; "time"; "github.com/ipclab/ipclab/ipc")
func waitRun(w string, d time.Duration) string {
	out := map[string]any{}
	rs, err := ipc.Run(context.Background(), ipc.Experiment{Transports: []string{"shm-ring"}, Sizes: []int{64, 64 << 10}, Mode: ipc.PingPong, Duration: d, Trials: 3, Options: ipc.Options{Wait: ipc.Wait(w)}})
	if err != nil { return fmt.Sprint("error: ", err) }
	for _, r := range rs { out[fmt.Sprint(r.SizeBytes)] = r.RTTp50.Nanoseconds() }
	st, err := ipc.Run(context.Background(), ipc.Experiment{Transports: []string{"shm-ring"}, Sizes: []int{64}, Duration: d, Trials: 3, Options: ipc.Options{Wait: ipc.Wait(w)}})
	if err != nil { return fmt.Sprint("error: ", err) }
	out["spread"] = 50 * (st[0].MaxMessagesPerSecond - st[0].MinMessagesPerSecond) / st[0].MessagesPerSecond
	b, _ := json.Marshal(out)
	return string(b)
}
"""


def run(kc, code):
    msg_id = kc.execute(code)
    out = []
    while True:
        msg = kc.get_iopub_msg(timeout=600)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        t = msg["msg_type"]
        if t == "error":
            raise RuntimeError(msg["content"]["evalue"])
        if t == "stream":
            out.append(msg["content"]["text"])
        if t == "execute_result":
            out.append(msg["content"]["data"].get("text/plain", ""))
        if t == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(out)


def notebook(kc, wait, duration):
    s = run(kc, f'fmt.Println(waitRun("{wait}", {duration_go(duration)}))').strip()
    return json.loads(s)


def duration_go(d):
    return f'func() time.Duration {{ d, _ := time.ParseDuration("{d}"); return d }}()'


def cli(binary, wait, duration):
    out = {}
    r = subprocess.run([binary, "bench", "--transports", "shm-ring", "--sizes", "64,64K", "--mode", "pingpong",
                        "--duration", duration, "--wait", wait, "--format", "json"], capture_output=True, text=True, check=True)
    for x in json.loads(r.stdout):
        out[str(x["size_bytes"])] = x["rtt_p50_ns"]
    r = subprocess.run([binary, "bench", "--transports", "shm-ring", "--sizes", "64",
                        "--duration", duration, "--wait", wait, "--format", "json"], capture_output=True, text=True, check=True)
    x = json.loads(r.stdout)[0]
    out["spread"] = 50 * (x["max_messages_per_second"] - x["min_messages_per_second"]) / x["messages_per_second"]
    return out


def fmt_ns(ns):
    return f"{ns / 1000:.2f} µs" if ns < 1_000_000 else f"{ns / 1e6:.2f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", default="300ms")
    ap.add_argument("--binary", default="out/bin/ipclab")
    ap.add_argument("--kernel", default="ipclab")
    args = ap.parse_args()

    km, kc = start_new_kernel(kernel_name=args.kernel, startup_timeout=300)
    rows = []
    try:
        run(kc, CELL)
        for cond in ["quiet", "busy core"]:
            spinner = None
            if cond == "busy core":
                spinner = subprocess.Popen(["nice", "-n", "10", "sh", "-c", "while :; do :; done"])
                time.sleep(0.5)
            try:
                load = os.getloadavg()[0]
                for wait in WAITS:
                    for where in ["notebook", "CLI"]:
                        r = notebook(kc, wait, args.duration) if where == "notebook" else cli(args.binary, wait, args.duration)
                        rows.append((cond, where, wait, r, load))
                        print(f"{cond:9} {where:8} {wait:8} p50 64 B {fmt_ns(r['64']):>10}  64 KiB {fmt_ns(r['65536']):>10}  "
                              f"64 B stream spread ±{r['spread']:.0f}%  (load {load:.1f})", flush=True)
            finally:
                if spinner:
                    spinner.kill()
                    spinner.wait()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    sys.exit(main())
