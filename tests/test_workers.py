"""Worker pools must not hang when started from a process that has TensorFlow loaded, and
run_spans hands back every span's result, or the first worker error; ordered_map keeps input order."""

import multiprocessing
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import make_photos
from plateocr.errors import PlateOCRError
from plateocr.workers import WorkerTraceback, ordered_map, run_spans

_offset = 0


def _set_offset(value: int) -> None:
    global _offset
    _offset = value


def _span(start: int, stop: int) -> list[int]:
    return [_offset + i for i in range(start, stop)]


def _fail_at_7(start: int, stop: int) -> list[int]:
    if start <= 7 < stop:
        raise PlateOCRError("item 7: cannot do it")
    return list(range(start, stop))


def _die_at_7(start: int, stop: int) -> list[int]:
    if start <= 7 < stop:
        os._exit(3)
    return list(range(start, stop))


def _add_offset(i: int) -> int:
    return _offset + i


def test_ordered_map_yields_in_input_order_after_the_initializer():
    results = list(
        ordered_map(_add_offset, range(50), 2, initializer=_set_offset, initargs=(1000,), chunksize=3, window=4)
    )
    assert results == [1000 + i for i in range(50)]
    assert list(ordered_map(_add_offset, range(3), 1, initializer=_set_offset, initargs=(7,))) == [0, 1, 2]


def test_run_spans_yields_every_span_once_after_the_initializer():
    results = list(run_spans(_span, 23, workers=2, chunk=4, initializer=_set_offset, initargs=(1000,)))
    assert sorted(len(r) for r in results) == [3, 4, 4, 4, 4, 4]
    assert sorted(i for r in results for i in r) == [1000 + i for i in range(23)]
    assert not multiprocessing.active_children()


def test_a_worker_error_is_raised_with_its_traceback_and_the_workers_stop():
    with pytest.raises(PlateOCRError, match="item 7: cannot do it") as e:
        list(run_spans(_fail_at_7, 40, workers=2, chunk=2))
    assert isinstance(e.value.__cause__, WorkerTraceback) and "_fail_at_7" in str(e.value.__cause__)
    assert not multiprocessing.active_children()


def test_a_worker_that_dies_is_an_error_not_a_hang():
    with pytest.raises(RuntimeError, match="ended unexpectedly .exit code 3"):
        list(run_spans(_die_at_7, 40, workers=2, chunk=2))
    assert not multiprocessing.active_children()


def test_fork_only_in_a_clean_single_threaded_process():
    code = textwrap.dedent(
        """
        import threading, time
        from plateocr.workers import fork_is_safe, pool_context
        print(fork_is_safe(), pool_context().get_start_method())
        t = threading.Thread(target=time.sleep, args=(1,)); t.start()
        print(fork_is_safe(), pool_context().get_start_method())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    first, second = out.stdout.split("\n")[:2]
    assert first == "True fork"
    assert second.split()[0] == "False" and second.split()[1] in ("forkserver", "spawn")


def test_crop_and_records_with_workers_after_tensorflow_started(tmp_path):
    # The way the demo and Python API users run the stages: TensorFlow already running its
    # thread pools when the process pool starts. A forked worker could hang there.
    rows = [(f"car{i}.png", f"AB{i:03d}", (10, 110, 20, 50)) for i in range(12)]
    photos = make_photos(tmp_path, rows)
    code = textwrap.dedent(
        f"""
        import tensorflow as tf
        tf.reduce_sum(tf.ones([64, 64]))  # start TensorFlow's thread pools
        from plateocr.cropping import crop_annotations
        from plateocr.records import RecordsOptions, write_records
        r = crop_annotations({str(photos.csv)!r}, out_dir={str(tmp_path / "crops")!r}, workers=2)
        print("crops", r.written)
        write_records({str(tmp_path / "crops")!r}, {str(tmp_path / "records")!r},
                      RecordsOptions(workers=2))
        print("records done")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "records done" in out.stdout
    assert (tmp_path / "records" / "dataset.json").is_file()
    assert len(list((tmp_path / "crops").glob("*.png"))) == 12
