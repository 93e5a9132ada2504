"""Process pools that are safe to start from any process, the CLI's or a library user's.

Forking starts workers in milliseconds with everything already imported, which the data stages
rely on for speed. But a fork copies locks held by other threads at that moment: after
TensorFlow has started its thread pools (a Python API user, the demo, a test session), or while
other Python threads run, a forked worker can hang forever in its first import. Then the pool
comes from a fork server instead: a clean process started before any of that, which costs a few
hundred milliseconds once.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading


def fork_is_safe() -> bool:
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and "tensorflow" not in sys.modules
        and threading.active_count() == 1
    )


def pool_context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context to start worker pools with (see module docstring)."""
    if fork_is_safe():
        return multiprocessing.get_context("fork")
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
