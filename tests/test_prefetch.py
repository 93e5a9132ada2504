"""Loading on threads ahead of the model: order kept, errors in place, bounded read-ahead."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from plateocr.errors import PlateOCRError
from plateocr.prefetch import prefetch_batches


def test_batches_keep_order_and_errors_stay_in_place():
    def loader(i):
        def load():
            time.sleep(0.002 * ((7 * i) % 5))  # finish out of order
            if i % 4 == 3:
                raise PlateOCRError(f"img{i}: broken")
            return np.full((2, 2), i)

        return load

    batches = list(prefetch_batches((loader(i) for i in range(10)), batch_size=4, workers=3))
    assert [len(b) for b in batches] == [4, 4, 2]
    flat = [x for b in batches for x in b]
    for i, x in enumerate(flat):
        if i % 4 == 3:
            assert isinstance(x, PlateOCRError) and str(x) == f"img{i}: broken"
        else:
            assert x[0, 0] == i


def test_reads_ahead_a_bounded_number_of_batches():
    started = []
    lock = threading.Lock()

    def loader(i):
        def load():
            with lock:
                started.append(i)
            return i

        return load

    gen = prefetch_batches((loader(i) for i in range(100)), batch_size=5, depth=2)
    first = next(gen)
    time.sleep(0.05)
    assert first == [0, 1, 2, 3, 4]
    assert len(started) <= 5 * 4  # the batch handed out, the next one queued, and `depth` more
    gen.close()


def test_other_exceptions_propagate_and_bad_sizes_are_refused():
    def boom():
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        list(prefetch_batches([boom], batch_size=2))
    with pytest.raises(ValueError):
        list(prefetch_batches([], batch_size=0))
