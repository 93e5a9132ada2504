"""Writing files without losing the user's work: atomic writes and --force checks."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from plateocr.errors import OutputExistsError, PlateOCRError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_error(path: str | os.PathLike, error: OSError) -> PlateOCRError:
    """The one-line error for a failed write of `path` (disk full, file size limit, ...)."""
    return PlateOCRError(f"{path}: cannot write it ({error.strerror or error})")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    An interrupted run never leaves a file that looks finished, and a failed write (disk full)
    leaves no temporary file: it raises PlateOCRError naming `path`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(path, e) from None
    tmp_path = Path(tmp)
    try:
        # mkstemp makes the file private (0600); outputs get the usual umask-based mode.
        os.fchmod(fd, 0o666 & ~_current_umask())
        os.close(fd)
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as e:
        if e.filename not in (None, str(tmp_path), str(path)):
            raise  # about another file the block read
        raise write_error(path, e) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_csv_atomic(path: str | os.PathLike, header: Sequence, rows: Iterable[Sequence]) -> None:
    """A CSV file of `header` then `rows`, written atomically."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def check_output_path(path: str | os.PathLike, what: str = "output", folder: bool | None = None) -> None:
    """Refuse, before any work, an output path that cannot be written: one under a file, in a
    symbolic link loop, or of the wrong kind (`folder` True: must be a folder if it exists;
    False: must not be one)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # absent, or under a file (found below)
        mode = None
    except OSError as e:  # a symbolic link loop, no permission...
        raise PlateOCRError(f"{path}: cannot use it as the {what} ({e.strerror or e})") from None
    if mode is not None:
        if folder is True and not stat.S_ISDIR(mode):
            raise PlateOCRError(f"{path}: exists and is not a folder")
        if folder is False and stat.S_ISDIR(mode):
            raise PlateOCRError(f"{path}: is a folder; the {what} is a file")
        return
    for parent in path.parents:  # the nearest one that exists must be a folder
        try:
            mode = parent.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as e:
            raise PlateOCRError(f"{path}: cannot create it ({parent}: {e.strerror or e})") from None
        if not stat.S_ISDIR(mode):
            raise PlateOCRError(f"{path}: cannot create it: {parent} is a file, not a folder")
        return


def check_can_write(path: str | os.PathLike, force: bool, what: str = "output", folder: bool | None = None) -> None:
    """Refuse an output path that cannot be written (check_output_path), and to overwrite an
    existing file, or a non-empty directory, unless force is set."""
    check_output_path(path, what, folder)
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
    check_can_write(out_dir, force, folder=True)
    (out_dir / marker).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir
