"""Writing files without losing the user's work: atomic writes and --force checks."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from plateocr.errors import OutputExistsError, PlateOCRError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    An interrupted run never leaves a file that looks finished.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # mkstemp makes the file private (0600); outputs get the usual umask-based mode.
    os.fchmod(fd, 0o666 & ~_current_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def check_can_write(path: str | os.PathLike, force: bool, what: str = "output") -> None:
    """Refuse to overwrite an existing file, or a non-empty directory, unless force is set."""
    path = Path(path)
    if force or not path.exists():
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    raise OutputExistsError(f"{path}: {what} already exists; pass --force to overwrite it")


def begin_output_dir(out_dir: str | os.PathLike, force: bool, marker: str) -> Path:
    """Make `out_dir` ready for a run: a folder (or nothing yet), empty unless `force`, and
    without `marker`, the file the run writes last to say it finished, so that an interrupted
    rerun never pairs an old marker with new files."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise PlateOCRError(f"{out_dir}: exists and is not a folder")
    check_can_write(out_dir, force)
    (out_dir / marker).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir
