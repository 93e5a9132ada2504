"""Resuming: the journal of photos already cropped (``.progress.jsonl``), which --resume reuses,
and taking over an output folder an earlier run left (refused without --force or --resume)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Iterable

from plateocr.annotations import Annotation
from plateocr.cropping.photo import PhotoDone, PhotoJob
from plateocr.cropping.settings import CropSettings
from plateocr.defaults import LABELS_FILE
from plateocr.errors import OutputExistsError, PlateOCRError
from plateocr.outputs import write_text_atomic

JOURNAL_FILE = ".progress.jsonl"
# Files this stage may delete (with --force or --resume): its crops, and the temp files of
# interrupted writes by earlier versions (which wrote each crop through a temp file).
CROP_NAME = re.compile(r"_L\d+\.png$")
TEMP_NAME = re.compile(r"^\..*_L\d+\.png\.tmp$")


def row_key(a: Annotation) -> list:
    return [a.line, a.file, a.text, list(a.box)]


class Journal:
    """Append-only record of photos fully cropped, one JSON line each, after a settings line."""

    def __init__(self, path: Path):
        self.path = path
        self._fh = None

    def read(self) -> tuple[CropSettings | None, dict[str, dict]]:
        """The settings the journal was written with and its entries by photo path."""
        if not self.path.is_file():
            return None, {}
        settings, entries = None, {}
        with open(self.path, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                try:
                    d = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interruption
                if i == 0:
                    settings = CropSettings.from_dict(d.get("settings", {}), str(self.path))
                elif "photo" in d:
                    entries[d["photo"]] = d
        return settings, entries

    def start(self, settings: CropSettings, kept: Iterable[dict]) -> None:
        """Rewrite the journal with `settings` and the entries still valid, then append to it."""
        buf = io.StringIO()
        buf.write(json.dumps({"settings": settings.to_dict()}) + "\n")
        for entry in kept:
            buf.write(json.dumps(entry) + "\n")
        write_text_atomic(self.path, buf.getvalue())
        self._fh = open(self.path, "a", encoding="utf-8")

    def add(self, job: PhotoJob, done: PhotoDone) -> None:
        """Record a photo cropped; call flush() to make a batch of them last."""
        entry = {
            "photo": job.path,
            "stamp": done.stamp,
            "rows": [row_key(a) for a in job.rows],
            "crops": [[line, name, list(region)] for line, name, region in done.crops],
        }
        self._fh.write(json.dumps(entry) + "\n")

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def reusable(entry: dict | None, job: PhotoJob, out_dir: Path) -> bool:
    """An earlier run already cropped this photo for exactly these rows, and its crops are there."""
    return (
        entry is not None
        and entry["rows"] == [row_key(a) for a in job.rows]
        and entry["stamp"] == stamp(job.path)
        and all((out_dir / name).is_file() for _, name, _ in entry["crops"])
    )


def earlier_output(out_dir: Path) -> str | None:
    """The name of a file an earlier run left in `out_dir`, if any (the first one found)."""
    if not out_dir.is_dir():
        return None
    with os.scandir(out_dir) as entries:
        return next(
            (e.name for e in entries if e.name in (LABELS_FILE, JOURNAL_FILE) or CROP_NAME.search(e.name)), None
        )


def remove_stale(out_dir: Path, keep: set[str]) -> int:
    """Delete crops (and interrupted temp files) of earlier runs that this run did not write."""
    removed = 0
    with os.scandir(out_dir) as entries:
        for e in entries:
            if e.name in keep or not (CROP_NAME.search(e.name) or TEMP_NAME.match(e.name)):
                continue
            os.unlink(e.path)
            removed += 1
    return removed


def take_over(out_dir: Path, journal: Journal, settings: CropSettings, force: bool, resume: bool) -> dict[str, dict]:
    """Make `out_dir` ours, refusing an earlier run's output without force/resume; the journal
    entries --resume may reuse. Drops any old manifest first, so that an interrupted run never
    leaves one that looks finished."""
    if out_dir.exists() and not out_dir.is_dir():
        raise PlateOCRError(f"{out_dir}: exists and is not a folder")
    earlier = earlier_output(out_dir)
    if earlier and not (force or resume):
        raise OutputExistsError(
            f"{out_dir}: holds crops of an earlier run ({earlier}); "
            "pass --force to replace them, or --resume to finish an interrupted run"
        )
    previous: dict[str, dict] = {}
    if resume:
        old_settings, previous = journal.read()
        if old_settings is not None and old_settings != settings:
            if not force:
                raise OutputExistsError(
                    f"{out_dir}: earlier crops were made with {old_settings.describe()}, not "
                    f"{settings.describe()}; pass --force to redo them"
                )
            previous = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / LABELS_FILE).unlink(missing_ok=True)
    return previous
