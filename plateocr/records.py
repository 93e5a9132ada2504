"""The `tfrecords` stage: labelled crops -> FSNS shards, charset file and dataset spec.

Two passes. The first reads the labels CSV and checks what is cheap (text, charset, length,
file present) without opening any image. The rows left are split into train/val/test (one plate
text, and the crops of one photo, in one split), then streamed in a fixed order through
decode/verify/encode (in worker processes for big inputs) and appended to the shards; images
are never all held in memory.
Shards are written under temporary names and renamed when complete; the spec comes last, so an
interrupted run never looks finished.
"""

from __future__ import annotations

import math
import os
import random
import unicodedata
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from plateocr import defaults
from plateocr.annotations import read_csv_records
from plateocr.charset import Charset, text_problem
from plateocr.cropping import SETTINGS_FILE, CropSettings
from plateocr.errors import PlateOCRError
from plateocr.fsns import frame_record, fsns_example
from plateocr.imaging import decode_image, encode_png, fit
from plateocr.label_slips import LabelSlip, find_slips
from plateocr.outputs import atomic_path, check_can_write, write_csv_atomic
from plateocr.problems import Problem, write_report
from plateocr.spec import DatasetSpec, SplitSpec
from plateocr.workers import cpu_count, ordered_map

LABEL_COLUMNS = ("files", "text")
SKIPPED_FILE = "skipped.csv"
LABEL_CHECKS_FILE = "label_checks.csv"  # labels that look like O/0 or I/1 slips, and what was trained on
SPLITS = ("train", "val", "test")
# A val split takes --val of the training part, but at least this many plates when the training
# part has four times as many (a smaller part gives a quarter of its plates).
VAL_MIN = 5
NUM_OF_VIEWS = 1
EXAMPLES_PER_SHARD = 1000  # default shard count: one shard per this many examples
PARALLEL_MIN_ROWS = 256  # below this, starting worker processes costs more than it saves

Progress = Callable[[int, int], None]  # (rows done, rows in total)


class NoUsableRowsError(PlateOCRError):
    """Nothing could be written; carries the skipped rows so the CLI can show them."""

    def __init__(self, message: str, problems: list[Problem]):
        super().__init__(message)
        self.problems = problems


# --- input ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CropsInput:
    """The labels CSV (crop file names are relative to its folder, or to images/ beside it, as
    `crop` finds photos) and, when `crop` made the crops, the settings it recorded in crop.json."""

    csv: Path
    settings: CropSettings | None = None

    @property
    def base(self) -> Path:
        return self.csv.parent

    def path_of(self, file: str) -> Path:
        """Where crop `file` is: beside the CSV, else in images/ beside it."""
        path = self.base / file
        if not path.is_file() and (self.base / "images" / file).is_file():
            return self.base / "images" / file
        return path


def locate_crops(path: str | os.PathLike) -> CropsInput:
    """A crops folder (its labels.csv) or a `files,text` CSV of ready-made crops."""
    path = Path(path)
    csv = path / defaults.LABELS_FILE if path.is_dir() else path
    if not csv.is_file():
        if path.is_dir():
            raise PlateOCRError(f"{path}: no {defaults.LABELS_FILE} in this folder (run `plateocr crop` first)")
        raise PlateOCRError(
            f"{path}: no such crops folder or labels CSV (run `plateocr crop` first, or name a files,text CSV)"
        )
    settings_file = csv.parent / SETTINGS_FILE
    return CropsInput(csv, CropSettings.read(settings_file) if settings_file.is_file() else None)


@dataclass(frozen=True)
class Row:
    """A labelled crop that passed the cheap checks."""

    line: int  # line in the labels CSV (header = 1)
    file: str  # as written in the CSV
    path: str  # resolved against the CSV's folder
    text: str
    source: str = ""  # the photo it was cut from (the `source` column `crop` writes), if known


def read_rows(
    crops: CropsInput, charset: Charset | None = None, max_length: int | None = None, charset_name: str = ""
) -> tuple[list[Row], list[Problem]]:
    """Rows worth decoding, and those skipped with why (no image is opened here).

    charset: only rows it can encode are kept (a reused charset); charset_name names it in reasons.
    """
    records, problems = read_csv_records(crops.csv, LABEL_COLUMNS)
    source = str(crops.csv)
    where = f" (not in {charset_name})" if charset_name else ""
    rows: list[Row] = []
    for line, rec in records:
        file, text = rec["files"].strip(), rec["text"].strip()
        if not file:
            problems.append(Problem(source, line, "", "no crop file named"))
            continue
        if not text:
            problems.append(Problem(source, line, file, "empty text"))
            continue
        bad = text_problem(text)
        if bad:
            problems.append(Problem(source, line, file, bad))
            continue
        if charset is not None:
            unknown = charset.unknown(text)
            if unknown:
                shown = ", ".join(repr(c) for c in unknown)
                problems.append(Problem(source, line, file, f"unknown characters: {shown}{where}"))
                continue
        if max_length is not None and len(text) > max_length:
            problems.append(
                Problem(source, line, file, f"text too long: {len(text)} characters > --max-length {max_length}")
            )
            continue
        path = crops.path_of(file)
        if not path.is_file():
            problems.append(Problem(source, line, file, f"crop file not found: {path}"))
            continue
        rows.append(Row(line, file, str(path), text, (rec.get("source") or "").strip()))
    return rows, problems


# --- split ------------------------------------------------------------------------------


def plate_key(text: str) -> str:
    """A plate's text as the split compares it: upper-case, without spaces, dashes, dots, middle
    dots or other separators ("ab 123-cd" and "AB123CD" are one plate)."""
    key = "".join(c for c in text.upper() if unicodedata.category(c)[0] not in "ZPC")
    return key or text


def split_groups(rows: Sequence[Row], group_by_text: bool = True) -> list[list[Row]]:
    """The rows that must land in one split, in order of their first row: the crops of one photo
    (Row.source) and, with group_by_text, the rows of one plate (plate_key)."""
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, r in enumerate(rows):
        keys = [("text", plate_key(r.text))] if group_by_text else []
        if r.source:
            keys.append(("photo", r.source))
        for k in keys:
            parent[root(i)] = root(first.setdefault(k, i))
    groups: dict[int, list[Row]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(root(i), []).append(r)
    return list(groups.values())


def _take_groups(groups: list[list[Row]], target: int, rng: random.Random) -> tuple[list[Row], list[Row]]:
    """About `target` rows in whole groups (never more), and the rest; both shuffled."""
    order = list(groups)
    rng.shuffle(order)
    taken: list[Row] = []
    rest: list[Row] = []
    for g in order:
        # greedy fill: a group is taken only if it fits, so `taken` never overshoots
        (taken if len(taken) + len(g) <= target else rest).extend(g)
    rng.shuffle(taken)
    rng.shuffle(rest)
    return taken, rest


def split_rows(
    rows: Sequence[Row], train_fraction: float, seed: int, group_by_text: bool = True
) -> tuple[list[Row], list[Row]]:
    """Random split into the training part (about `train_fraction` of the rows; train and val)
    and test, in whole split_groups: a plate (or photo) seen in training is never scored as a
    test success. Both come out shuffled."""
    if not 0.0 <= train_fraction <= 1.0:
        raise PlateOCRError(f"--split {train_fraction}: the train fraction must lie between 0 and 1")
    target = round(train_fraction * len(rows))
    return _take_groups(split_groups(rows, group_by_text), target, random.Random(seed))


def val_size(n: int, fraction: float) -> int:
    """Val plates wanted from a training part of `n`: `fraction` of it, at least VAL_MIN when
    there are 4 * VAL_MIN, else at least a quarter, and never all of it (training needs plates);
    0 for --val 0."""
    if fraction <= 0 or n < 2:
        return 0
    return min(n - 1, max(round(fraction * n), min(VAL_MIN, n // 4)))


def plan_splits(rows: Sequence[Row], options: "RecordsOptions") -> dict[str, list[Row]]:
    """The rows of each split as write_records writes them: test first (split_rows, so --split
    keeps its meaning), then val out of the training part, grouped as the test split is."""
    part, test = split_rows(rows, options.split, options.seed, options.group_by_text)
    wanted = val_size(len(part), options.val)
    val, train = _take_groups(split_groups(part, options.group_by_text), wanted, random.Random(f"val {options.seed}"))
    return {"train": train, "val": val, "test": test}


def default_shard_count(n: int) -> int:
    return max(1, math.ceil(n / EXAMPLES_PER_SHARD))


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def shard_pattern(split: str) -> str:
    return f"{split}-*.tfrecord"


# --- per-crop work (runs in worker processes) -------------------------------------------


def crop_png(data: bytes, size: tuple[int, int], keep_aspect: bool, name: str = "crop") -> bytes:
    """PNG bytes of a crop at `size`: the file's own bytes when it is a plain RGB PNG of that
    size, else fitted and re-encoded. Decoded either way: a crop that would not decode raises
    PlateOCRError here instead of reaching training."""
    image = decode_image(data, name)
    if image.shape[:2] == tuple(size) and _plain_rgb_png(data):
        return data
    return encode_png(fit(image, size, keep_aspect))


def _plain_rgb_png(data: bytes) -> bool:
    """An 8-bit RGB PNG, not interlaced (its IHDR says), with no EXIF chunk (an orientation
    OpenCV would apply and TensorFlow not): training's decoder reads the pixels OpenCV did."""
    return (
        data.startswith(b"\x89PNG\r\n\x1a\n")
        and data[12:16] == b"IHDR"
        and data[24:26] == b"\x08\x02"
        and data[28:29] == b"\x00"
        and b"eXIf" not in data
    )


def _prepare_record(job: tuple[str, str, list[int], list[int]], size, keep_aspect) -> tuple[bool, bytes | str]:
    """(True, framed record) or (False, why the crop was skipped)."""
    path, text, padded, unpadded = job
    try:
        with open(path, "rb") as f:
            data = f.read()
        png = crop_png(data, size, keep_aspect, name=path)
    except FileNotFoundError:
        return False, f"crop file not found: {path}"
    except OSError as e:
        return False, f"cannot read crop: {e.strerror}"
    except PlateOCRError as e:
        reason = str(e)
        if reason.startswith(path + ": "):
            reason = reason[len(path) + 2 :]
        return False, f"corrupt crop: {reason}"
    example = fsns_example(png, size[1], NUM_OF_VIEWS, padded, unpadded, text)
    return True, frame_record(example)


def _worker_init() -> None:
    import signal

    import cv2

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    cv2.setNumThreads(1)  # one process per core already


def _ordered_map(func, items: Iterable, workers: int) -> Iterator:
    """func over items in order, in `workers` processes (see workers.ordered_map)."""
    return ordered_map(func, items, workers, initializer=_worker_init)


def default_workers(n_rows: int) -> int:
    if n_rows < PARALLEL_MIN_ROWS:
        return 1
    return max(1, min(cpu_count(), 8))


# --- the stage --------------------------------------------------------------------------


@dataclass
class RecordsOptions:
    split: float = 0.83  # the training part (train and val)
    val: float = 0.1  # of the training part, for val (0: no val split)
    seed: int = 0
    shards: int | None = None  # per split; None: default_shard_count
    max_length: int | None = None  # None: the longest label
    charset_file: Path | None = None  # reuse a charset (fine-tuning)
    size: tuple[int, int] | None = None  # None: crop.json's, else defaults.CROP_SIZE
    keep_aspect: bool | None = None  # None: crop.json's, else defaults.KEEP_ASPECT
    group_by_text: bool = True
    # Train and val take the likely meaning of labels that look like O/0 or I/1 slips (the test
    # split keeps every label as given, so eval scores against the user's labels).
    fix_labels: bool = True
    strict: bool = False
    workers: int | None = None  # None: by input size and cores


@dataclass
class LabelCheck:
    """A label that looks like a slip (plateocr.label_slips), where it is, and what the records hold."""

    line: int
    file: str
    split: str
    slip: LabelSlip
    written: str  # the text the records hold for it

    @property
    def label(self) -> str:
        return self.slip.text

    @property
    def suggested(self) -> str:
        return self.slip.suggested


@dataclass
class SplitResult:
    name: str
    size: int
    shards: int
    pattern: str


@dataclass
class RecordsResult:
    out: Path
    spec: DatasetSpec
    splits: list[SplitResult]
    charset: Charset
    max_length: int
    max_length_from: str  # "longest label" or "--max-length"
    rows_read: int
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things worth telling (empty split, ...)
    label_checks: list[LabelCheck] = field(default_factory=list)


def _clear_previous(out: Path) -> None:
    """With --force: remove what an earlier run wrote (spec first), never other files."""
    (out / defaults.SPEC_FILE).unlink(missing_ok=True)
    for split in SPLITS:
        for p in out.glob(shard_pattern(split)):
            p.unlink()
    for name in (defaults.CHARSET_FILE, SKIPPED_FILE, LABEL_CHECKS_FILE):
        (out / name).unlink(missing_ok=True)


def _write_shards(
    planned: dict[str, list[Row]],
    shard_counts: dict[str, int],
    out: Path,
    results: Iterator[tuple[bool, bytes | str]],
    source: str,
    problems: list[Problem],
    progress: Progress | None,
) -> dict[str, int]:
    """Append each prepared record (in plan order) to its shard: example j of n in shard
    j*k//n. Each shard is renamed into place when complete. Returns examples written per split."""
    total = sum(len(rows) for rows in planned.values())
    written = {split: 0 for split in planned}
    done = 0
    for split, rows in planned.items():
        n, k = len(rows), shard_counts[split]
        for s in range(k):
            with atomic_path(out / shard_name(split, s, k)) as tmp, open(tmp, "wb") as f:
                for r in rows[s * n // k : (s + 1) * n // k]:
                    ok, payload = next(results)
                    if ok:
                        f.write(payload)
                        written[split] += 1
                    else:
                        problems.append(Problem(source, r.line, r.file, payload))
                    done += 1
                    if progress:
                        progress(done, total)
    return written


def plan_checked_splits(
    rows: Sequence[Row], options: "RecordsOptions", charset: Charset
) -> tuple[dict[str, list[Row]], list[LabelCheck]]:
    """plan_splits, with the labels that look like slips (plateocr.label_slips) grouped by their
    suggested text, so a slip and the plate it means stay in one split. With options.fix_labels,
    train and val rows carry the suggested text where the charset has its characters (a model
    learns the plate, not the slip; val chooses on it); test rows keep their labels."""
    from dataclasses import replace

    slips = find_slips(r.text for r in rows)
    planned = plan_splits([replace(r, text=slips[r.text].suggested) if r.text in slips else r for r in rows], options)
    if not slips:
        return planned, []
    label = {r.line: r.text for r in rows if r.text in slips}
    checks = []
    for split, planned_rows in planned.items():
        for k, r in enumerate(planned_rows):
            if r.line in label:
                slip = slips[label[r.line]]
                fixed = options.fix_labels and split != "test" and not charset.unknown(slip.suggested)
                written = slip.suggested if fixed else slip.text
                checks.append(LabelCheck(r.line, r.file, split, slip, written))
                planned_rows[k] = replace(r, text=written)
    checks.sort(key=lambda c: c.line)
    return planned, checks


def write_label_checks(checks: list[LabelCheck], path: Path) -> None:
    header = ["line", "file", "split", "label", "suggested", "format", "suggested_format", "written"]
    rows = (
        [c.line, c.file, c.split, c.label, c.suggested, c.slip.own_format, c.slip.suggested_format, c.written]
        for c in checks
    )
    write_csv_atomic(path, header, rows)


def write_records(
    crops_path: str | os.PathLike,
    out: str | os.PathLike = defaults.RECORDS_DIR,
    options: RecordsOptions | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> RecordsResult:
    """Write `out`/ shards, charset.txt, skipped.csv and (last) dataset.json from the crops at
    `crops_path` (a crops folder or a files,text CSV). Raises NoUsableRowsError when nothing
    could be written, or with --strict when any row was skipped (then no spec is written)."""
    opts = options or RecordsOptions()
    out = Path(out)
    if opts.max_length is not None and opts.max_length < 1:
        raise PlateOCRError(f"--max-length {opts.max_length}: must be at least 1")
    if opts.shards is not None and opts.shards < 1:
        raise PlateOCRError(f"--shards {opts.shards}: must be at least 1")
    if opts.workers is not None and opts.workers < 1:
        raise PlateOCRError(f"--workers {opts.workers}: must be at least 1")
    if not 0.0 <= opts.split <= 1.0:
        raise PlateOCRError(f"--split {opts.split:g}: the train fraction must lie between 0 and 1")
    if not 0.0 <= opts.val <= 1.0:
        raise PlateOCRError(f"--val {opts.val:g}: the val fraction of the training part must lie between 0 and 1")
    check_can_write(out, force, "records folder", folder=True)
    crops = locate_crops(crops_path)
    made = crops.settings
    size = tuple(opts.size or (made.size if made else defaults.CROP_SIZE))
    if opts.keep_aspect is not None:
        keep_aspect = opts.keep_aspect
    else:
        keep_aspect = made.keep_aspect if made else defaults.KEEP_ASPECT
    given_charset = Charset.read(opts.charset_file) if opts.charset_file is not None else None
    charset_name = Path(opts.charset_file).name if opts.charset_file is not None else ""
    rows, problems = read_rows(crops, given_charset, opts.max_length, charset_name)
    n_read = len(rows) + len(problems)
    if not rows:
        raise NoUsableRowsError(f"{crops.csv}: no usable rows ({len(problems)} of {n_read} skipped)", problems)
    if opts.strict and problems:
        raise NoUsableRowsError(
            f"{crops.csv}: {len(problems)} row(s) skipped and --strict is set; first: {problems[0]}", problems
        )

    charset = given_charset or Charset.from_texts(r.text for r in rows)
    if opts.max_length is not None:
        max_length, max_from = opts.max_length, "--max-length"
    else:
        max_length, max_from = max(len(r.text) for r in rows), "longest label"
    planned, checks = plan_checked_splits(rows, opts, charset)
    notes = []
    if not planned["val"]:  # no val shards: training then keeps its latest checkpoint
        del planned["val"]
        why = "--val 0" if opts.val == 0 else f"too few plates: {len(planned['train'])} in the training part"
        notes.append(f"no val split ({why}): training will keep its latest checkpoint, without early stopping")
    shard_counts = {}
    for s in planned:
        n = len(planned[s])
        shard_counts[s] = max(1, min(opts.shards or default_shard_count(n), n))  # never an empty shard by plan
        if opts.shards and n and opts.shards > n:
            notes.append(f"--shards {opts.shards}: the {s} split has {n} example(s), so {n} shard(s)")

    out.mkdir(parents=True, exist_ok=True)
    if force:
        _clear_previous(out)
    charset.write(out / defaults.CHARSET_FILE)

    def jobs():
        for split in planned:
            for r in planned[split]:
                ids = charset.encode(r.text)
                yield (r.path, r.text, charset.pad(ids, max_length), ids)

    workers = opts.workers if opts.workers is not None else default_workers(len(rows))
    prepare = partial(_prepare_record, size=size, keep_aspect=keep_aspect)
    results = _ordered_map(prepare, jobs(), workers)
    try:
        written = _write_shards(planned, shard_counts, out, results, str(crops.csv), problems, progress)
    finally:
        results.close()

    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    write_report(problems, out / SKIPPED_FILE)
    if checks:
        write_label_checks(checks, out / LABEL_CHECKS_FILE)
    if sum(written.values()) == 0:
        for split in SPLITS:
            for p in out.glob(shard_pattern(split)):
                p.unlink()
        raise NoUsableRowsError(
            f"{crops.csv}: no usable rows ({len(problems)} of {n_read} skipped; see {out / SKIPPED_FILE})", problems
        )
    if opts.strict and problems:
        raise NoUsableRowsError(
            f"{crops.csv}: {len(problems)} row(s) skipped and --strict is set; no dataset spec written "
            f"(see {out / SKIPPED_FILE})",
            problems,
        )

    splits = [SplitResult(s, written[s], shard_counts[s], shard_pattern(s)) for s in planned]
    spec = DatasetSpec(
        splits={s.name: SplitSpec(pattern=s.pattern, size=s.size) for s in splits},
        charset_file=defaults.CHARSET_FILE,
        image_shape=(size[0], size[1] * NUM_OF_VIEWS, 3),
        num_of_views=NUM_OF_VIEWS,
        max_sequence_length=max_length,
        null_code=charset.null_code,
        num_classes=charset.num_classes,
        keep_aspect=keep_aspect,
        margin=made.margin if made else None,
        seed=opts.seed,
        extra={
            "source": str(crops.csv),
            "train_fraction": opts.split,
            "val_fraction": opts.val,
            "group_by_text": opts.group_by_text,
            "shards": {s.name: s.shards for s in splits},
            "fix_labels": opts.fix_labels,
            "labels_fixed": sum(c.written != c.label for c in checks),
        },
    )
    spec.write(out / defaults.SPEC_FILE)  # last: its presence means the records are complete

    for s in splits:
        if s.size == 0:
            cause = f"--val {opts.val:g}" if s.name == "train" and opts.split > 0 else f"--split {opts.split:g}"
            notes.append(f"the {s.name} split is empty ({cause})")
    if opts.max_length is None:
        notes.append(f"max length {max_length}: the longest label")
    return RecordsResult(out, spec, splits, charset, max_length, max_from, n_read, problems, notes, checks)
