"""Notebooks executed headlessly with nbclient and exported with nbconvert.

Run by tests/jupyter_test.go against the installed ipclab kernel. The worker-pool
and gonum notebooks are gophernotes classics: their outputs must be what gophernotes
prints.
"""
import os
import pathlib
import unittest

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def execute(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="ipclab", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def outputs(nb):
    """Each code cell's outputs as (stdout text, text/plain value, mime types)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        stdout, value, mimes = "", None, set()
        for o in cell.outputs:
            if o.output_type == "error":
                raise AssertionError(f"cell failed: {o.ename}: {o.evalue}\n" + "\n".join(o.traceback))
            if o.output_type == "stream" and o.name == "stdout":
                stdout += o.text
            if o.output_type in ("execute_result", "display_data"):
                mimes |= set(o.data)
                if o.output_type == "execute_result":
                    value = o.data.get("text/plain")
        out.append((stdout, value, mimes))
    return out


class Notebooks(unittest.TestCase):
    def test_worker_pool(self):
        out = outputs(execute("worker-pool.ipynb"))
        self.assertEqual(out[-1][0], "sum of doubled jobs: 90\n")
        self.assertEqual(out[-1][1], "90")

    def test_gonum_matrices(self):
        out = outputs(execute("gonum-mat.ipynb"))
        self.assertEqual(out[2][0], "a =\n⎡1  2⎤\n⎣3  4⎦\n")
        self.assertEqual(out[3][0], "a × b =\n⎡19  22⎤\n⎣43  50⎦\n")
        self.assertEqual(out[4][1], "-2")

    def test_tour_exports_html_with_charts(self):
        nb = execute("tour.ipynb")
        out = outputs(nb)
        mimes = set().union(*(m for _, _, m in out))
        for mime in ("image/svg+xml", "image/png", "text/html", "text/markdown", "text/latex"):
            self.assertIn(mime, mimes)
        html, _ = HTMLExporter().from_notebook_node(nb)
        # Charts reach the HTML as an <img> of their SVG: Debian's nbconvert
        # strips inline SVG of everything but its text.
        self.assertIn('<img src="data:image/svg+xml;base64,', html)
        self.assertIn("Throughput vs message size", html)
        dest = os.environ.get("IPCLAB_TEST_OUT")
        if dest:
            pathlib.Path(dest, "tour.html").write_text(html)


if __name__ == "__main__":
    unittest.main()
