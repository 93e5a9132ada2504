"""Loading images on worker threads while the model runs: batches of prepared arrays, in order.

OpenCV releases the GIL while decoding and resizing, so a few threads keep a TensorFlow session
busy without it waiting for disk and PNG decoding between batches. Threads, not processes: this
overlaps loading with inference in the process that holds the model, a different job from the
data stages' process pools in plateocr.workers.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np

from plateocr.errors import PlateOCRError
from plateocr.workers import cpu_count


def _load(load: Callable[[], np.ndarray]) -> np.ndarray | PlateOCRError:
    try:
        return load()
    except PlateOCRError as e:
        return e


def prefetch_batches(
    loaders: Iterable[Callable[[], np.ndarray]],
    batch_size: int,
    workers: int | None = None,
    depth: int = 2,
) -> Iterator[list[np.ndarray | PlateOCRError]]:
    """Run `loaders` on a thread pool and yield their results in batches of `batch_size`, in order.

    A loader that raises PlateOCRError yields that error in its place (the caller writes an error
    row and goes on); other exceptions propagate. At most `depth` batches are loaded ahead, so
    memory stays bounded for long lists.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    workers = workers or min(8, cpu_count() + 2)
    it = iter(loaders)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="plateocr-load") as pool:
        pending: deque[list] = deque()

        def submit_batch() -> bool:
            batch = []
            for load in it:
                batch.append(pool.submit(_load, load))
                if len(batch) == batch_size:
                    break
            if batch:
                pending.append(batch)
            return bool(batch)

        for _ in range(depth + 1):
            if not submit_batch():
                break
        while pending:
            batch = pending.popleft()
            submit_batch()
            yield [f.result() for f in batch]
