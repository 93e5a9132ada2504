"""Worker pools must not hang when started from a process that has TensorFlow loaded."""

import subprocess
import sys
import textwrap

from conftest import make_photos


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
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "records done" in out.stdout
    assert (tmp_path / "records" / "dataset.json").is_file()
    assert len(list((tmp_path / "crops").glob("*.png"))) == 12
