"""Worker processes for the data stages: the one CPU count, and the two ways to spread work
over processes (`run_spans` for many small results in any order, `ordered_map` for results in
input order). Both start safely from any process, the CLI's or a library user's.

Forking starts workers in milliseconds with everything already imported, which the data stages
rely on for speed. But a fork copies locks held by other threads at that moment: after
TensorFlow has started its thread pools (a Python API user, the demo, a test session), or while
other Python threads run, a forked worker can hang forever in its first import. Then the pool
comes from a fork server instead: a clean process started before any of that, which costs a few
hundred milliseconds once.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import traceback
from multiprocessing import connection
from typing import Callable, Iterable, Iterator


def cpu_count() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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


class WorkerTraceback(Exception):
    """Where an exception raised in a worker process came from (its traceback, as text)."""

    def __str__(self) -> str:
        return f"\n\n{self.args[0]}"


def ordered_map(
    func: Callable,
    items: Iterable,
    workers: int,
    *,
    initializer: Callable | None = None,
    initargs: tuple = (),
    chunksize: int = 8,
    window: int = 256,
) -> Iterator:
    """func(item) for each item, in input order; with workers > 1 in a process pool whose workers
    first run `initializer(*initargs)` and leave Ctrl-C to the caller. At most `window` items are
    in flight, so results never pile up in memory when the consumer is slower than the workers.
    With workers <= 1, func runs here and the initializer does not run (func and the initializer
    must pickle: module-level functions).
    """
    if workers <= 1:
        for item in items:
            yield func(item)
        return
    ctx = pool_context()
    slots = threading.Semaphore(window)
    stop = threading.Event()

    def feed():
        for item in items:
            while not slots.acquire(timeout=0.1):
                if stop.is_set():
                    return
            yield item

    pool = ctx.Pool(workers, initializer=_pool_worker_start, initargs=(initializer, initargs))
    try:
        for result in pool.imap(func, feed(), chunksize=chunksize):
            slots.release()
            yield result
        pool.close()
    finally:
        stop.set()
        pool.terminate()
        pool.join()


def _pool_worker_start(initializer: Callable | None, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    if initializer is not None:
        initializer(*initargs)


def run_spans(
    work: Callable[[int, int], object],
    count: int,
    workers: int,
    chunk: int,
    initializer: Callable | None = None,
    initargs: tuple = (),
) -> Iterator:
    """`work(start, stop)` for consecutive spans of `chunk` items of range(count), in `workers`
    processes; yields each span's result as it comes (in any order).

    Lighter than multiprocessing.Pool for many small results: each worker takes the next span
    from a shared counter (so all finish together) and sends its results through its own pipe,
    read here. A Pool's helper threads spin while results wait to be read (~3 % of a crop run's
    CPU). An exception in a worker is raised here (with the worker's traceback as its cause);
    the other workers are then stopped, as on Ctrl-C, which only the caller's process gets.
    """
    ctx = pool_context()
    next_span = ctx.Value("q", 0)
    processes, readers = [], {}
    try:
        for _ in range(min(workers, -(-count // chunk))):
            reader, writer = ctx.Pipe(duplex=False)
            process = ctx.Process(
                target=_span_worker, args=(writer, next_span, count, chunk, work, initializer, initargs), daemon=True
            )
            process.start()
            writer.close()
            processes.append(process)
            readers[reader] = process
        while readers:
            for reader in connection.wait(list(readers)):
                try:
                    kind, value = reader.recv()
                except EOFError:
                    process = readers.pop(reader)
                    process.join()
                    raise RuntimeError(f"a worker process ended unexpectedly (exit code {process.exitcode})") from None
                if kind == "result":
                    yield value
                elif kind == "error":
                    error, trace = value
                    raise error from WorkerTraceback(trace)
                else:  # done
                    readers.pop(reader).join()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()


def _span_worker(writer, next_span, count, chunk, work, initializer, initargs) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    try:
        if initializer is not None:
            initializer(*initargs)
        while True:
            with next_span.get_lock():
                start = next_span.value * chunk
                next_span.value += 1
            if start >= count:
                break
            writer.send(("result", work(start, min(start + chunk, count))))
        writer.send(("done", None))
    except BaseException as e:  # noqa: BLE001 - everything goes back to the caller
        trace = traceback.format_exc()
        try:
            writer.send(("error", (e, trace)))
        except Exception:  # an exception that does not pickle
            writer.send(("error", (RuntimeError(f"{type(e).__name__}: {e}"), trace)))
    finally:
        writer.close()
