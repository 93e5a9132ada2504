"""The CLI entry points: main() is safe in-process; the console script exits fast."""

import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_main_raises_systemexit_even_after_tensorflow_loaded():
    # A fast os._exit in main() would end the caller's process (a test session, a notebook).
    out = _run(
        """
        import sys
        import tensorflow
        from plateocr.cli import main
        sys.argv = ["plateocr", "--help"]
        try:
            main()
        except SystemExit as e:
            print("survived", e.code)
        """
    )
    assert "survived 0" in out.stdout, out.stderr[-1000:]


def test_console_script_reports_errors_with_exit_code():
    out = subprocess.run(
        [sys.executable, "-m", "plateocr", "crop", "/nonexistent/annot.csv"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    # exactly one line: no progress-bar residue when stderr is not a terminal
    assert out.stderr.startswith("error: ") and "/nonexistent/annot.csv" in out.stderr
    assert len(out.stderr.splitlines()) == 1
