"""Speed and memory of the data stages (`plateocr crop`, `plateocr tfrecords`) against baselines
measured in the same run on the same photos:

- the physical limit: only decoding the photos, with 2 processes;
- the tutorial's approach (one process; per row a pandas filter, cv2.imread, a 200x200
  INTER_CUBIC resize, cv2.imwrite; per record the charset file re-read, the crop decoded and
  re-encoded, a tf.train.Example built and written with TensorFlow).

Every variant runs in its own subprocess (start-up included; ours through the real CLI); peak
RSS is the largest process of the variant (wait4 rusage). The input is N distinct photo names
symlinked to ../shared/realplates/eu, run again with 2N to show memory stays flat.

Runs of `plateocr crop` after the first rewrite the crops of the run before (--force); with
--repeat the decode limit and crop take turns and the fastest of each counts.

    python benchmarks/data_stages.py [--photos 2000] [--repeat 2] [--size 64x256] [--crop-only] [--quick]

The tutorial's crop stage needs pandas, which plateocr itself does not use: pip install pandas.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_EU = REPO.parent / "shared" / "realplates" / "eu"
TUTORIAL_SIZE = 200
TRAIN_FRACTION = 0.83
TARGET_CROP_VS_LIMIT = 0.8
TARGET_RECORDS_VS_TUTORIAL = 3.0
FLAT_RSS = 1.2  # peak RSS at 2N within this factor of N counts as flat


# --- the baselines, run in subprocesses of this script ----------------------------------


def _decode_one(path: str) -> int:
    import cv2

    return cv2.imread(path).shape[0]


def decode_only(workdir: str, processes: str = "2") -> None:
    """The physical limit: decode each photo once, nothing else."""
    import multiprocessing

    import cv2

    cv2.setNumThreads(1)
    with open(Path(workdir) / "annot.csv", newline="") as f:
        photos = sorted({str(Path(workdir) / "images" / r["files"]) for r in csv.DictReader(f)})
    with multiprocessing.get_context("fork").Pool(int(processes)) as pool:
        for _ in pool.imap_unordered(_decode_one, photos, chunksize=8):
            pass


def tutorial_crop(workdir: str) -> None:
    import cv2
    import pandas as pd

    df = pd.read_csv(Path(workdir) / "annot.csv")
    out = Path(workdir) / "tutorial_crops"
    out.mkdir(exist_ok=True)
    for name in df["files"]:
        row = df[df["files"] == name].iloc[0]
        img = cv2.imread(str(Path(workdir) / "images" / name))
        plate = img[int(row["ymin"]) : int(row["ymax"]), int(row["xmin"]) : int(row["xmax"])]
        plate = cv2.resize(plate, (TUTORIAL_SIZE, TUTORIAL_SIZE), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(out / (Path(name).stem + ".png")), plate)


def _read_charset(path: Path) -> dict[str, int]:
    charset = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        idx, char = line.split("\t")
        charset[char] = int(idx)
    return charset


def tutorial_records(workdir: str) -> None:
    """The tutorial's records: TensorFlow Examples, charset re-read and crop re-decoded per record."""
    import cv2
    import tensorflow as tf

    crops = Path(workdir) / "crops"
    with open(crops / "labels.csv", newline="", encoding="utf-8") as f:
        rows = [(r["files"], r["text"]) for r in csv.DictReader(f)]
    out = Path(workdir) / "tutorial_records"
    out.mkdir(exist_ok=True)
    charset_file = out / "charset.txt"
    chars = sorted({c for _, t in rows for c in t})
    charset_file.write_text("0\t<nul>\n" + "".join(f"{i}\t{c}\n" for i, c in enumerate(chars, 1)))
    max_len = max(len(t) for _, t in rows)
    n_train = int(len(rows) * TRAIN_FRACTION)

    def int64(v):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=v))

    def bytes_(v):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=v))

    writers = {s: tf.io.TFRecordWriter(str(out / f"{s}.tfrecord")) for s in ("train", "test")}
    for i, (file, text) in enumerate(rows):
        charset = _read_charset(charset_file)
        img = cv2.imread(str(crops / file))
        png = cv2.imencode(".png", img)[1].tobytes()
        ids = [charset[c] for c in text]
        padded = ids + [charset["<nul>"]] * (max_len - len(ids))
        example = tf.train.Example(
            features=tf.train.Features(
                feature={
                    "image/format": bytes_([b"png"]),
                    "image/encoded": bytes_([png]),
                    "image/class": int64(padded),
                    "image/unpadded_class": int64(ids),
                    "image/width": int64([img.shape[1]]),
                    "image/orig_width": int64([img.shape[1]]),
                    "image/text": bytes_([text.encode("utf-8")]),
                }
            )
        )
        writers["train" if i < n_train else "test"].write(example.SerializeToString())
    for w in writers.values():
        w.close()


BASELINES = {"decode": decode_only, "tutorial-crop": tutorial_crop, "tutorial-records": tutorial_records}


# --- the harness ------------------------------------------------------------------------


def build_workdir(root: Path, photos: int) -> Path:
    """`photos` distinct names symlinked to the real photos, and annot.csv with a row for each."""
    root.mkdir(parents=True)
    (root / "images").mkdir()
    with open(SHARED_EU / "annot.csv", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader if r]
    with open(root / "annot.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(photos):
            row = list(rows[i % len(rows)])
            name = f"p{i:06d}_{row[0]}"
            os.symlink(SHARED_EU / "images" / row[0], root / "images" / name)
            row[0] = name
            w.writerow(row)
    return root


def plateocr_cli() -> list[str]:
    exe = Path(sys.executable).parent / "plateocr"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "plateocr"]


def measure(cmd: list[str], cwd: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of all its processes, peak RSS in MiB of the largest process)
    of a command run to completion. CPU seconds do not depend on what else the machine runs."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr.decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def baseline(name: str, workdir: Path, *args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--baseline", name, str(workdir), *args]


def count_rows(csv_path: Path) -> int:
    with open(csv_path, newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=2000, help="distinct photos (default 2000; 2x for the RSS run)")
    ap.add_argument("--quick", action="store_true", help="300 photos: a smoke run, figures not for reporting")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each variant; the fastest counts")
    ap.add_argument("--keep", type=Path, help="build the work folders here and keep them")
    ap.add_argument("--size", help="crop size HxW passed to `plateocr crop` (default: its own)")
    ap.add_argument("--crop-only", action="store_true", help="only the crop stage against its limit (no records)")
    ap.add_argument("--baseline", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline:
        name, *rest = args.baseline
        BASELINES[name](*rest)
        return

    from rich.console import Console

    # piped output (logs, reports) gets the whole table instead of 80 wrapped columns
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if not (SHARED_EU / "annot.csv").is_file():
        console.print(f"{SHARED_EU} is absent: no photos to benchmark with; nothing measured.")
        return
    n = 300 if args.quick else args.photos
    root = args.keep or Path(tempfile.mkdtemp(prefix="plateocr-bench-"))
    cli = plateocr_cli()
    results = {}
    try:
        small = build_workdir(root / f"n{n}", n)

        def run(key, cmd, cwd, items):
            run_alternating([(key, cmd, cwd, items)])

        def run_alternating(variants):
            """Each variant `repeat` times, taking turns: a busy spell of the machine then
            slows all of them, not just one (their ratio is what the targets use)."""
            console.print(f"[dim]running {', '.join(v[0] for v in variants)} ...[/dim]")
            runs = {key: [] for key, *_ in variants}
            for _ in range(max(1, args.repeat)):
                for key, cmd, cwd, _items in variants:
                    runs[key].append(measure(cmd, cwd))
            for key, _cmd, _cwd, items in variants:
                seconds, cpu, _ = min(runs[key])
                results[key] = (items, seconds, cpu, max(r[2] for r in runs[key]))

        crop_cmd = [*cli, "crop", "annot.csv", "--force", *(["--size", args.size] if args.size else [])]
        # Start-up alone: the CLI answering --help, against Python importing OpenCV (the limit's).
        for key, cmd in (
            ("start-up", [*cli, "crop", "--help"]),
            ("start-up-limit", [sys.executable, "-c", "import cv2"]),
        ):
            results[key] = min(measure(cmd, small) for _ in range(5))
        run_alternating([("decode", baseline("decode", small, "2"), small, n), ("crop", crop_cmd, small, n)])
        if not args.crop_only:
            run("tutorial-crop", baseline("tutorial-crop", small), small, n)
            stages(small, build_workdir(root / f"n{2 * n}", 2 * n), n, run, crop_cmd)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    report(console, results, n, args)


def stages(small: Path, big: Path, n: int, run, crop_cmd: list[str]) -> None:
    """The records stage and the 2x runs (peak memory must stay flat)."""
    records_cmd = [*plateocr_cli(), "tfrecords", "--split", str(TRAIN_FRACTION), "--force"]
    rows = count_rows(small / "crops" / "labels.csv")
    run("tutorial-records", baseline("tutorial-records", small), small, rows)
    run("tfrecords", records_cmd, small, rows)
    run("crop-2x", crop_cmd, big, 2 * n)
    run("tfrecords-2x", records_cmd, big, count_rows(big / "crops" / "labels.csv"))


def report(console, results, n, args) -> None:
    from rich.table import Table

    def rate(key):
        items, seconds, _, _ = results[key]
        return items / seconds

    def rss(key):
        return results[key][3]

    crop_vs_limit = rate("crop") / rate("decode")
    # The same ratio in CPU seconds per photo: what the machine's other load does not change
    # (on a busy machine the wall-time ratio scatters around it).
    crop_vs_limit_cpu = results["decode"][2] / results["crop"][2]

    def verdict(ok):
        return "[green]met[/green]" if ok else "[red]missed[/red]"

    size = args.size or "default"
    table = Table(
        title=f"data stages on {n} distinct photos ({os.cpu_count()} CPUs, crop size {size}), start-up included"
    )
    for col in ("stage", "variant", "items", "seconds", "items/s", "CPU s", "peak RSS MiB", "compared", "target"):
        table.add_column(col, justify="left" if col in ("stage", "variant", "compared", "target") else "right")

    def row(stage, key, variant, compared="", target=""):
        items, seconds, cpu, peak = results[key]
        table.add_row(
            stage,
            variant,
            str(items),
            f"{seconds:.2f}",
            f"{items / seconds:.0f}",
            f"{cpu:.2f}",
            f"{peak:.0f}",
            compared,
            target,
        )

    for key, variant in (
        ("start-up-limit", "start-up: python -c 'import cv2'"),
        ("start-up", "start-up: plateocr crop --help"),
    ):
        seconds, cpu, peak = results[key]
        table.add_row("crop", variant, "", f"{seconds:.2f}", "", f"{cpu:.2f}", f"{peak:.0f}", "", "")
    row("crop", "decode", "limit: decode only, 2 procs")
    if args.crop_only:
        row(
            "crop",
            "crop",
            "plateocr crop",
            f"{crop_vs_limit:.2f}x limit (CPU {crop_vs_limit_cpu:.2f}x)",
            f">= {TARGET_CROP_VS_LIMIT}x limit: {verdict(crop_vs_limit >= TARGET_CROP_VS_LIMIT)}",
        )
        console.print(table)
        return
    records_vs_tutorial = rate("tfrecords") / rate("tutorial-records")
    crop_rss, records_rss = rss("crop-2x") / rss("crop"), rss("tfrecords-2x") / rss("tfrecords")
    row(
        "crop",
        "tutorial-crop",
        "tutorial (1 proc, pandas, 200x200)",
        f"{rate('tutorial-crop') / rate('decode'):.2f}x limit",
    )
    row(
        "crop",
        "crop",
        "plateocr crop",
        f"{crop_vs_limit:.2f}x limit (CPU {crop_vs_limit_cpu:.2f}x), {rate('crop') / rate('tutorial-crop'):.1f}x tutorial",
        f">= {TARGET_CROP_VS_LIMIT}x limit: {verdict(crop_vs_limit >= TARGET_CROP_VS_LIMIT)}",
    )
    row(
        "crop",
        "crop-2x",
        "plateocr crop, 2x photos",
        f"RSS {crop_rss:.2f}x of 1x",
        f"flat (<= {FLAT_RSS}x): {verdict(crop_rss <= FLAT_RSS)}",
    )
    row("records", "tutorial-records", "tutorial (TensorFlow, re-encode)")
    row(
        "records",
        "tfrecords",
        "plateocr tfrecords",
        f"{records_vs_tutorial:.1f}x tutorial",
        f">= {TARGET_RECORDS_VS_TUTORIAL}x: {verdict(records_vs_tutorial >= TARGET_RECORDS_VS_TUTORIAL)}",
    )
    row(
        "records",
        "tfrecords-2x",
        "plateocr tfrecords, 2x records",
        f"RSS {records_rss:.2f}x of 1x",
        f"flat (<= {FLAT_RSS}x): {verdict(records_rss <= FLAT_RSS)}",
    )
    console.print(table)
    console.print(
        "seconds and items/s are wall time (what the targets use); CPU s sums all processes of a variant and "
        "does not depend on the machine's other load. Peak RSS: the largest process of the variant."
    )
    if args.quick:
        console.print("--quick: a smoke run on few photos; start-up dominates, do not report these figures.")


if __name__ == "__main__":
    main()
