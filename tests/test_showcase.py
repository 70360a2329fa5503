"""The showcase notebook, executed headlessly through the ipclab kernel and exported to HTML.

Run by tests/jupyter_test.go (TestJupyter/showcase) against the installed kernel. It runs
notebooks/shared-memory-vs-message-passing.ipynb exactly as `make demo` does (tools/publish.py)
and checks what a reader of the HTML relies on: no cell failed; six verdicts, each computed (an
outcome, its deciding numbers, its parameters); the summary table at the top with the same six;
at least one chart and one raw-data link per claim; the machine recorded in the notebook's metadata.
The verdicts themselves are not checked: they are whatever this machine measured.
"""
import base64
import html as htmllib
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import unittest

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "shared-memory-vs-message-passing.ipynb"
VERDICT = "application/vnd.ipclab.verdict+json"
SUMMARY = "application/vnd.ipclab.summary+json"
OUTCOMES = {"confirmed", "refined", "contradicted"}
CLAIMS = ["1", "2", "3", "4", "5", "6"]


class Showcase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        out = pathlib.Path(cls.tmp.name)
        cls.run_ = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "publish.py"), "--kernel", os.environ.get("IPCLAB_KERNEL_NAME", "ipclab"),
             "--out", str(out), str(NOTEBOOK)], capture_output=True, text=True, timeout=1500)
        print(cls.run_.stdout, cls.run_.stderr, flush=True)
        cls.nb = nbformat.read(out / NOTEBOOK.name, as_version=4) if (out / NOTEBOOK.name).exists() else None
        html = out / (NOTEBOOK.stem + ".html")
        cls.html = html.read_text() if html.exists() else ""
        dest = os.environ.get("IPCLAB_TEST_OUT")
        if dest and cls.html:
            pathlib.Path(dest, html.name).write_text(cls.html)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_no_cell_failed(self):
        self.assertEqual(self.run_.returncode, 0, self.run_.stderr)
        errors = [(i, o.ename, o.evalue) for i, c in enumerate(self.nb.cells) for o in c.get("outputs", [])
                  if o.output_type == "error"]
        self.assertEqual(errors, [])
        # Only the kernel's notices (the session restarts around %goflags -race) and the racy
        # cell may write to stderr.
        stderr = [o.text for c in self.nb.cells for o in c.get("outputs", [])
                  if o.output_type == "stream" and o.name == "stderr" and not o.text.startswith("ipclab: ")
                  and not c.source.startswith("%") and "racy" not in c.metadata.get("tags", [])]
        self.assertEqual(stderr, [], "cells wrote to stderr")

    def verdicts(self):
        """The verdict outputs of the executed notebook, by claim: the last one of each (the race
        detector's section adds its count to claim 4's)."""
        found = {}
        for c in self.nb.cells:
            for o in c.get("outputs", []):
                v = o.get("data", {}).get(VERDICT)
                if v:
                    found[v["claim"]] = v
                    self.assertEqual(o.metadata["ipclab"]["verdict"], v)
        return found

    def test_six_computed_verdicts(self):
        vs = self.verdicts()
        self.assertEqual(sorted(vs), CLAIMS)
        for claim, v in vs.items():
            with self.subTest(claim=claim):
                self.assertIn(v["outcome"], OUTCOMES)
                if v["outcome"] == "refined":
                    self.assertTrue(v["condition"])
                self.assertTrue(v["statement"] and v["reason"])
                self.assertGreaterEqual(len(v["numbers"]), 2)
                for n in v["numbers"]:
                    self.assertIsInstance(n["value"], (int, float), n)
                # Every deciding number is in the text the reader sees.
                self.assertIn(htmllib.escape(v["numbers"][0]["name"]), self.html)
        for claim in ["1", "2", "3", "5"]:
            self.assertTrue(vs[claim].get("parameters"), f"claim {claim} keeps no parameters")

    def test_summary_table_first(self):
        # The summary cell's output was updated in place to hold all six.
        cell = next(c for c in self.nb.cells if "summary" in c.metadata.get("tags", []))
        data = cell.outputs[-1]["data"]
        self.assertEqual([v["claim"] for v in data[SUMMARY]["verdicts"]], CLAIMS)
        self.assertEqual(data[SUMMARY]["verdicts"], [self.verdicts()[c] for c in CLAIMS])
        # In the HTML: the table with six rows comes before the first section and every verdict box.
        table = self.html.find('class="ipclab-summary"')
        self.assertGreater(table, 0)
        self.assertEqual(len(re.findall(r'class="ipclab-summary-row" data-claim="(\d)"', self.html)), 6)
        self.assertLess(table, self.html.find('id="Claim-1'))
        self.assertLess(table, self.html.find('class="ipclab-verdict"'))

    def sections(self):
        """The HTML of each claim's sections ("Claim 4, continued" joins claim 4's)."""
        found = list(re.finditer(r'<h2 id="Claim-(\d)', self.html))
        ends = [m.start() for m in found[1:]] + [len(self.html)]
        by_claim = {}
        for m, end in zip(found, ends):
            by_claim[m.group(1)] = by_claim.get(m.group(1), "") + self.html[m.start():end]
        self.assertEqual(sorted(by_claim), CLAIMS)
        return [by_claim[c] for c in CLAIMS]

    def test_race_detector_caught_the_racy_cell(self):
        cell = next(c for c in self.nb.cells if "racy" in c.metadata.get("tags", []))
        out = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        self.assertIn("WARNING: DATA RACE", out)
        self.assertRegex(out, r"cell\d+\.go:\d+")  # the report names the cell's lines
        reports = [n for n in self.verdicts()["4"]["numbers"] if n["name"] == "race detector reports on the racy cell"]
        self.assertEqual(len(reports), 1)
        self.assertGreater(reports[0]["value"], 0)
        self.assertEqual(list(ROOT.glob("notebooks/race-report.*")), [], "the race detector's log files were left behind")

    def test_chart_and_data_per_claim(self):
        for claim, section in zip(CLAIMS, self.sections()):
            with self.subTest(claim=claim):
                self.assertIn('<img src="data:image/svg+xml;base64,', section.replace('<img class="ipclab-chart" ', "<img "))
                self.assertIn('class="ipclab-verdict" data-claim="%s"' % claim, section)
                links = re.findall(r'class="ipclab-data" download="([^"]+)" href="data:application/json;base64,([^"]+)"', section)
                self.assertTrue(links, "no raw data link")
                json.loads(base64.b64decode(links[0][1]))

    def test_metadata_records_the_run(self):
        meta = self.nb.metadata["ipclab"]
        m = meta["machine"]
        for key in ("cpus", "cpu_model", "go_version", "kernel_version", "load", "ipclab", "date"):
            self.assertIn(key, m)
        self.assertGreater(m["cpus"], 0)
        self.assertRegex(m["ipclab"], r"^ipclab ")
        self.assertEqual([v["claim"] for v in meta["verdicts"]], CLAIMS)
        self.assertEqual(sorted(meta["experiments"]), ["claim " + c for c in CLAIMS])
        self.assertGreater(meta["seconds"], 0)


if __name__ == "__main__":
    unittest.main()
