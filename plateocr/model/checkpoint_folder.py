"""A folder of TensorFlow checkpoints as plateocr trains them: periodic ckpt-<step> files, the
best one in best/ with its metrics, and the early-stopping count. The model directory
(plateocr.model.modeldir) and the detector directory (plateocr.detection.detector_dir) are both
such folders; no TensorFlow is needed to read one."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from plateocr.errors import OutputExistsError, PlateOCRError
from plateocr.outputs import write_error, write_text_atomic

BEST_DIR = "best"
METRICS_FILE = "metrics.json"
EARLY_STOPPING_FILE = "early_stopping.json"
STATE_FILE = "checkpoint"  # TensorFlow's name for the checkpoint state file
CHECKPOINT_PREFIX = "ckpt"

_STATE_LINE = re.compile(r'^model_checkpoint_path:\s*"(.*)"\s*$', re.M)
_STEP = re.compile(r"-(\d+)$")


def checkpoint_step(prefix: str | os.PathLike) -> int | None:
    """The global step in a checkpoint prefix such as model/ckpt-1200, or None."""
    m = _STEP.search(str(prefix))
    return int(m.group(1)) if m else None


def checkpoint_exists(prefix: str | os.PathLike) -> bool:
    return Path(f"{prefix}.index").is_file()


def _checkpoint_files(prefix: str | os.PathLike) -> list[Path]:
    prefix = Path(prefix)
    return sorted(p for p in prefix.parent.glob(prefix.name + ".*") if p.is_file())


def checkpoint_digest(prefix: str | os.PathLike) -> str:
    """A SHA-256 of a checkpoint's files (its .index and data shards, names and bytes): the same
    weights anywhere give the same digest; retrained ones another."""
    import hashlib

    h = hashlib.sha256()
    for f in _checkpoint_files(prefix):
        h.update(f.name[len(Path(prefix).name) :].encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _latest_in(folder: Path) -> str | None:
    """The checkpoint the state file names (if it still exists), else the highest-step one."""
    try:
        text = (folder / STATE_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        text = ""
    m = _STATE_LINE.search(text)
    if m:
        named = Path(m.group(1))
        prefix = named if named.is_absolute() else folder / named
        if checkpoint_exists(prefix):
            return str(prefix)
    found = [(checkpoint_step(p.with_suffix("")) or -1, str(p.with_suffix(""))) for p in folder.glob("*.index")]
    return max(found)[1] if found else None


def write_checkpoint_state(folder: str | os.PathLike, prefix: str | os.PathLike) -> None:
    """Name `prefix` (relative to `folder`) as the folder's checkpoint, in TensorFlow's format."""
    name = os.path.relpath(prefix, folder)
    write_text_atomic(
        Path(folder) / STATE_FILE,
        f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n',
    )


class CheckpointFolder:
    """Checkpoints in `self.path` (set by the subclass); `train_command` names the command that
    writes them, for messages."""

    path: Path
    train_command = "train"

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:  # pragma: no cover - each subclass says
        raise NotImplementedError

    @staticmethod
    def _clear(path: Path) -> None:  # pragma: no cover - each subclass says
        raise NotImplementedError

    @staticmethod
    def _other_kind(path: Path) -> str | None:
        """The other kind of checkpoint folder `path` holds, if any (each subclass says): --force
        never clears it, as its checkpoints would go."""
        return None

    @classmethod
    def _make_room(cls, path: str | os.PathLike, force: bool, what: str) -> Path:
        """`path` ready for a new folder of this kind (`what`, for messages): created if missing;
        one holding such a folder (or anything) is kept unless `force`, which removes only
        plateocr's own files (_clear); one holding the other kind (_other_kind) is refused."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise PlateOCRError(f"{path}: exists and is not a directory")
        other = cls._other_kind(path) if path.is_dir() else None
        if other:
            raise PlateOCRError(
                f"{path}: {other} is there, not a {what}; choose another folder (--force would delete its checkpoints)"
            )
        if path.is_dir() and any(path.iterdir()):
            if not force:
                found = f"a {what}" if cls.exists(path) else "a non-empty folder"
                raise OutputExistsError(f"{path}: {found} is already there; pass --force to start a new {what} in it")
            cls._clear(path)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def _remove_own(path: Path, files: tuple[str, ...], folders: tuple[str, ...] = ()) -> None:
        """Remove plateocr's files from `path` (for --force): the checkpoints, their state,
        best/, the early-stopping count, TensorBoard events, and the subclass's `files` and
        `folders`; anything else the user keeps there stays."""
        for p in path.iterdir():
            own = (
                p.name in (STATE_FILE, EARLY_STOPPING_FILE, *files)
                or p.name.startswith(CHECKPOINT_PREFIX + "-")
                or p.name.startswith("events.out.tfevents")
            )
            if own and p.is_file():
                p.unlink()
            elif p.name in (BEST_DIR, *folders) and p.is_dir():
                shutil.rmtree(p)

    @property
    def checkpoint_prefix(self) -> str:
        """What Saver.save is given (it appends -<step>)."""
        return str(self.path / CHECKPOINT_PREFIX)

    @property
    def best_dir(self) -> Path:
        return self.path / BEST_DIR

    def latest_checkpoint(self) -> str | None:
        return _latest_in(self.path)

    def resume_checkpoint(self) -> str | None:
        """The checkpoint training resumes from: the latest, else the best (when the latest
        ones were deleted); None for a model that has none yet (never raises)."""
        try:
            return self.latest_checkpoint() or self.best_checkpoint()
        except PlateOCRError:  # best/ damaged too
            return None

    def checkpoints(self) -> list[str]:
        """The prefixes of the checkpoints in the folder (not best/), oldest step first."""
        found = [p.with_suffix("") for p in self.path.glob(f"{CHECKPOINT_PREFIX}-*.index")]
        return [str(p) for p in sorted(found, key=lambda p: checkpoint_step(p) or -1)]

    def best_checkpoint(self) -> str | None:
        """best/'s checkpoint; None when there is none. best/ naming a checkpoint whose files are
        gone is an error, not a silent fall back to another checkpoint."""
        if not self.best_dir.is_dir():
            return None
        found = _latest_in(self.best_dir)
        if found is None and ((self.best_dir / STATE_FILE).is_file() or (self.best_dir / METRICS_FILE).is_file()):
            raise PlateOCRError(
                f"{self.best_dir}: the best checkpoint's files are missing (no {CHECKPOINT_PREFIX}-*.index); "
                "pass --checkpoint latest to use the latest one"
            )
        return found

    def best_metrics(self) -> dict | None:
        try:
            return json.loads((self.best_dir / METRICS_FILE).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None

    def resolve_checkpoint(self, which: str | os.PathLike | None = None) -> str:
        """None: best, else latest. "best" / "latest", a checkpoint prefix, or a folder holding one."""
        if which is None or str(which) in ("best", "latest"):
            ckpt = None
            if which in (None, "best"):
                ckpt = self.best_checkpoint()
            if ckpt is None and which in (None, "latest"):
                ckpt = self.latest_checkpoint()
            if ckpt is None:
                kind = f"{which} " if which else ""
                raise PlateOCRError(
                    f"{self.path}: no {kind}checkpoint yet (train it with `plateocr {self.train_command}`)"
                )
            return ckpt
        p = Path(which)
        if p.is_dir():
            ckpt = _latest_in(p)
            if ckpt is None:
                raise PlateOCRError(f"{p}: no checkpoint in this folder")
            return ckpt
        if checkpoint_exists(p):
            return str(p)
        raise PlateOCRError(f"{p}: checkpoint not found (expected {p}.index)")

    def early_stopping_state(self) -> dict:
        """{"step": last scored step, "since_best": evaluations since the best} or {}."""
        try:
            state = json.loads((self.path / EARLY_STOPPING_FILE).read_text(encoding="utf-8"))
            return {"step": int(state["step"]), "since_best": int(state["since_best"])}
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return {}

    def save_early_stopping_state(self, step: int, since_best: int) -> None:
        state = {"step": int(step), "since_best": int(since_best)}
        write_text_atomic(self.path / EARLY_STOPPING_FILE, json.dumps(state, sort_keys=True) + "\n")

    def save_best(self, prefix: str | os.PathLike, metrics: dict) -> str:
        """Copy checkpoint `prefix` into best/ (replacing the previous best) with its metrics."""
        best = self.best_dir
        best.mkdir(exist_ok=True)
        old = [p for p in best.iterdir() if p.name.startswith(CHECKPOINT_PREFIX + "-")]
        name = Path(prefix).name
        for f in _checkpoint_files(prefix):
            tmp = best / f".{f.name}.tmp"
            try:
                shutil.copyfile(f, tmp)
                os.replace(tmp, best / f.name)
            except OSError as e:  # disk full: the earlier best stays, nothing half-copied is left
                tmp.unlink(missing_ok=True)
                for copied in _checkpoint_files(best / name):
                    copied.unlink()
                raise write_error(best / f.name, e) from None
        write_checkpoint_state(best, best / name)
        write_text_atomic(best / METRICS_FILE, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        for p in old:
            if not p.name.startswith(name + "."):
                p.unlink()
        return str(best / name)
