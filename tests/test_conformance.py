"""jupyter_kernel_test's conformance suite for the ipclab kernel, with every
sample attribute filled in. Run by tests/jupyter_test.go (go test ./tests/).
"""

import unittest

import jupyter_kernel_test

from ipclab_testing import KERNEL, run


class IpclabConformance(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL
    language_name = "go"
    file_extension = ".go"

    # Missing standard-library imports are added by the engine.
    code_hello_world = 'fmt.Println("hello, world")'
    code_stderr = 'fmt.Fprintln(os.Stderr, "oops")'

    # jupyter_kernel_test compares the set of matches; the kernel completes
    # the selector after "fmt." (cursor_start is after the dot).
    completion_samples = [
        {"text": "fmt.Print", "matches": {"Print", "Printf", "Println"}},
        {"text": "strings.HasPre", "matches": {"HasPrefix"}},
    ]

    complete_code_samples = ["x := 1", 'fmt.Println("hi")', "func f() {}", "type point struct{ x, y int }"]
    incomplete_code_samples = ["func f() {", "for i := 0; i < 3; i++ {", "x := []int{\n1,"]
    invalid_code_samples = ["x := )", "func ) {"]

    code_generate_error = 'panic("boom")'

    # test_history runs these again before each query, so the search for
    # code_history_pattern finds "6*7" several times (n=3, unique=True).
    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": "1 << 10", "result": "1024"},
    ]
    code_history_pattern = "6?7"
    supported_history_operations = ("tail", "range", "search")

    code_display_data = [
        {"code": 'display.Display(display.HTML("<b>hi</b>"))', "mime": "text/html"},
        {"code": 'display.Display(display.Markdown("# hi"))', "mime": "text/markdown"},
    ]

    code_inspect_sample = "fmt.Println"
    code_clear_output = "display.Clear()"

    # No pager payloads: ipclab shows documentation through inspect_request.
    code_page_something = ""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # jupyter_kernel_test waits 15 s per cell; the first cell builds the
        # session program, which can take longer on a busy machine.
        reply, _ = run(cls.kc, 'fmt.Print("")')
        assert reply["content"]["status"] == "ok", reply["content"]


if __name__ == "__main__":
    unittest.main()
