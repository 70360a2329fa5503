#!/usr/bin/python3
"""Execute notebooks through a Jupyter kernel and publish them as self-contained HTML.

    /usr/bin/python3 tools/publish.py [--kernel ipclab] [--out out] [--timeout 900] NOTEBOOK...

For each notebook: run every cell with nbclient in the notebook's directory, then write
OUT/NAME.ipynb (executed) and OUT/NAME.html (nbconvert's HTML: charts inline as data: URIs, raw
data as download links). What ipclab's verdict package put in the outputs (the machine, each
verdict with its numbers and parameters, the summary, the raw-data names) is copied into the
notebook's metadata under "ipclab", with the kernel, the time it took and the command line, so
that the executed notebook records where and how its numbers were measured.

It prints each verdict as "claim N: LABEL" and exits 1 if any cell failed (after writing the
HTML, which shows the error) or 2 if a notebook could not be run at all.
"""
import argparse
import datetime
import os
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

VERDICT = "application/vnd.ipclab.verdict+json"
SUMMARY = "application/vnd.ipclab.summary+json"
MACHINE = "application/vnd.ipclab.machine+json"
DATA = "application/vnd.ipclab.data+json"


def collect(nb):
    """What the verdict package left in the outputs, and the error outputs."""
    meta = {"verdicts": [], "data": [], "experiments": {}}
    errors = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors.append((i, out.ename, out.evalue))
                continue
            data = out.get("data", {})
            if MACHINE in data:
                meta["machine"] = data[MACHINE]
            if SUMMARY in data:
                meta["summary"] = data[SUMMARY]
            if DATA in data:
                meta["data"].append(out.get("metadata", {}).get("ipclab", {}).get("data"))
            if VERDICT in data:
                v = data[VERDICT]
                meta["verdicts"] = [x for x in meta["verdicts"] if x.get("claim") != v.get("claim")] + [v]
                meta["experiments"]["claim " + str(v.get("claim"))] = v.get("parameters", {})
    meta["verdicts"].sort(key=lambda v: (not str(v.get("claim")).isdigit(), int(v["claim"]) if str(v.get("claim")).isdigit() else 0, str(v.get("claim"))))
    return meta, errors


def publish(path, kernel, out, timeout):
    path = pathlib.Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    print(f"== publish: executing {path.name} with the {kernel} kernel", flush=True)
    start = time.monotonic()
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    took = time.monotonic() - start
    meta, errors = collect(nb)
    meta.update({
        "executed": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(took, 1),
        "kernel": kernel,
        "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        "taskset": open("/proc/self/status").read().split("Cpus_allowed_list:")[1].split("\n")[0].strip(),
    })
    nb.metadata["ipclab"] = meta
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / path.name)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out / (path.stem + ".html")).write_text(html)
    print(f"== publish: {path.name} ran in {took:.0f} s; wrote {out / path.name} and {out / (path.stem + '.html')}")
    for v in meta["verdicts"]:
        print(f"claim {v.get('claim')}: {v.get('label')}")
    for i, name, value in errors:
        print(f"ERROR in cell {i}: {name}: {value}", file=sys.stderr)
    return not errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", default="ipclab")
    ap.add_argument("--out", default="out", type=pathlib.Path)
    ap.add_argument("--timeout", default=900, type=int, help="seconds a cell may run")
    ap.add_argument("notebooks", nargs="+")
    args = ap.parse_args()
    ok = True
    for nb in args.notebooks:
        try:
            ok = publish(nb, args.kernel, args.out, args.timeout) and ok
        except Exception as e:  # a kernel that would not start, a notebook that would not load
            print(f"publish {nb}: {type(e).__name__}: {e}", file=sys.stderr)
            sys.exit(2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
