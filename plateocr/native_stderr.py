"""Native libraries' start-up chatter kept off the terminal: TensorFlow's C++ messages while it
is imported (plateocr.model.compat), LiteRT's "Created TensorFlow Lite XNNPACK delegate" when its
first interpreter is made (plateocr.inference.litert_runner).

Both write to file descriptor 2 from C++, where Python's sys.stderr cannot catch them.
TF_CPP_MIN_LOG_LEVEL=0 or 1 asks for them: then nothing is hidden.
"""

from __future__ import annotations

import contextlib
import os
import sys


def native_logs_wanted() -> bool:
    """TF_CPP_MIN_LOG_LEVEL is 0 or 1: the user asked for the native libraries' info logs."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("0", "1")


@contextlib.contextmanager
def quiet_native_stderr():
    """Send file descriptor 2 to /dev/null inside the block, unless native_logs_wanted(). What
    another thread writes to stderr meanwhile is lost, so keep the block short; Python exceptions
    still propagate after the descriptor is restored."""
    if native_logs_wanted():
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
