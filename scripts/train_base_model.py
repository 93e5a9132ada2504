r"""Pretrain plateocr's base model on synthetic plate crops, evaluate it, and optionally export it
into the package (plateocr/assets/base_model/).

Defaults: 32x128 crops, Mixed_5d, a pool of 150,000 pre-rendered crops with plateocr's
augmentation, batch 32, Adam 1e-3 with cosine decay over 13,000 steps. Rerunning the same command
resumes where it stopped (--steps is the total to reach); --minutes stops (and saves) after a
training time budget. --init starts a new run from an earlier one's weights (continued
pretraining on a fresh pool, e.g. after the renderer learnt new plate features).

The bundled model continues the six stages of the first renderer (docs/base_model_history.md has
their commands, commits and figures) with stages on the outline-font renderer, run with the
openly licensed fonts outline_fonts.KNOWN_FONTS names installed (`--install-fonts` installs
them) and bfloat16 where the CPU has it (`--bf16 auto`), on 2 CPU cores:

  8. at commit bd34ee1 (outline fonts of 11 packages, world layouts), from stage 6:
        python scripts/train_base_model.py ../base_v8 --seed 7 --init <stage 6> \
            --learning-rate 5e-4 --steps 15000 --pool 100000 --minutes 62
  9. at commit 6479b4d (25 font packages, hollow characters), from stage 8:
        python scripts/train_base_model.py ../base_v9 --seed 8 --init ../base_v8/model \
            --learning-rate 5e-4 --steps 36000 --pool 200000 --minutes 55
 10. at commit 0a7ae82 (open and closed-bowl 4, slab-serif I, thick rims on old Argentine
     plates), from stage 9's best (step 28,000), on a pool rendered at that commit (seed 9):
        python scripts/train_base_model.py ../base_v10 --seed 9 --init ../base_v9/model \
            --learning-rate 4e-4 --steps 24000 --pool 160000 --minutes 45 --export-base
     The bundled checkpoint is its best on its synthetic test (step 20,000): eu 0.907, ar 0.871.
     Stage 9 was stopped by hand at step 28,000 when stage 10's renderer was ready.

On a GPU machine, one stage with larger --steps and --pool is the way to a better model.

WORK (keep it outside the repository) gets:
  test_crops/, test_records/  the fixed synthetic test set (its own seed) as a crops folder and
                         records (test split only); they also give training the spec and charset
  pool_records/          with --pool N: N pre-rendered training crops (train split only)
  model/                 the model directory (`plateocr eval/predict WORK/model` work on it)
  real_crops/, real_records/  zero-shot test on ../shared/realplates/eu when it exists
  report.json            the figures printed at the end

Training is plateocr's own loop (plateocr.training.loop.train) fed by the pool's records (or, with
--pool 0, by plateocr.training.synthetic_data's live stream). The charset is the base one (null +
0-9A-Z), max length 10, crops stretched to plateocr's default size, so models fine-tuned from it
on real plates share all of its variables.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from plateocr.charset import Charset  # noqa: E402
from plateocr.defaults import CHARSET_FILE, CROP_SIZE, KEEP_ASPECT, SPEC_FILE  # noqa: E402
from plateocr.errors import PlateOCRError  # noqa: E402
from plateocr.imaging import parse_size  # noqa: E402

MAX_LENGTH = 10  # the longest real plates
BASE_MODEL_DIR = REPO / "plateocr" / "assets" / "base_model"
BASE_MODEL_MAX_BYTES = 15 * 1024 * 1024
REAL_PLATES = REPO.parent / "shared" / "realplates" / "eu"
TEST_SEED_OFFSET = 1_000_003  # the test crops come from a stream training never reads


def base_charset() -> Charset:
    return Charset.from_texts([])


def make_synthetic_records(
    work: Path, name: str, count: int, seed: int, size: tuple[int, int], workers: int, split: float, fonts=None
) -> Path:
    """WORK/<name>_records: `count` synthetic crops of stream `seed` as records (split 0.0: all
    test, 1.0: all train), made once per WORK; the crops folder goes once the records exist."""
    from plateocr.records import RecordsOptions, write_records
    from plateocr.synth.crop_dataset import write_crops

    records = work / f"{name}_records"
    if (records / SPEC_FILE).is_file():
        return records
    work.mkdir(parents=True, exist_ok=True)
    charset_file = work / CHARSET_FILE
    base_charset().write(charset_file)
    print(f"rendering {count} synthetic crops for {records.name}", flush=True)
    crops = write_crops(
        work / f"{name}_crops",
        count,
        seed,
        workers=workers,
        force=True,
        size=size,
        keep_aspect=KEEP_ASPECT,
        fonts=fonts,
    )
    write_records(
        crops.out_dir,
        records,
        RecordsOptions(
            split=split, val=0.0, max_length=MAX_LENGTH, charset_file=charset_file, group_by_text=False, workers=workers
        ),
        force=True,
    )
    if split > 0:  # the training pool is big; its records are all training needs
        shutil.rmtree(crops.out_dir)
    return records


def make_real_records(work: Path, real: Path, size: tuple[int, int], workers: int) -> Path | None:
    """WORK/real_records: the real plates cropped as `plateocr crop` does (test split only);
    rows the base charset or max length cannot hold are skipped (and listed in skipped.csv)."""
    from plateocr.cropping import crop_annotations
    from plateocr.records import RecordsOptions, write_records

    if not (real / "annot.csv").is_file():
        return None
    records = work / "real_records"
    if (records / SPEC_FILE).is_file():
        return records
    crop_annotations(real / "annot.csv", real / "images", work / "real_crops", size=size, force=True)
    write_records(
        work / "real_crops",
        records,
        RecordsOptions(split=0.0, max_length=MAX_LENGTH, charset_file=work / CHARSET_FILE, workers=workers),
        force=True,
    )
    return records


def install_fonts() -> None:
    """apt-get install the font packages outline_fonts knows (Debian; needs root)."""
    from plateocr.synth.outline_fonts import debian_packages

    cmd = ["apt-get", "install", "-y", "-q", *debian_packages()]
    print("installing fonts:", " ".join(cmd), flush=True)
    if subprocess.run(cmd, check=False).returncode != 0:
        print("warning: the font packages could not all be installed; rendering with what is present", flush=True)


class PrintListener:
    """Training progress as plain lines (the run is long and usually logged to a file)."""

    def __init__(self, every: int):
        self.every = max(1, every)
        self.t0 = time.monotonic()

    def start(self, first_step, total_steps):
        print(f"training from step {first_step} to {total_steps}", flush=True)

    def step(self, step, loss, images_per_sec):
        if step % self.every == 0:
            print(
                f"step {step:7d}  loss {loss:8.3f}  {images_per_sec:6.1f} img/s  "
                f"{(time.monotonic() - self.t0) / 60:6.1f} min",
                flush=True,
            )

    def message(self, text):
        print(text, flush=True)

    def evaluated(self, step, metrics, is_best):
        print(
            f"eval at {step}: char {metrics['character_accuracy']:.3f} seq {metrics['sequence_accuracy']:.3f}"
            f"{' (best)' if is_best else ''}",
            flush=True,
        )

    def finish(self):
        pass


def export_base(model_dir: Path, target: Path = BASE_MODEL_DIR, max_bytes: int = BASE_MODEL_MAX_BYTES) -> int:
    """Copy the model dir's best (else latest) checkpoint, variables only (no optimizer slots,
    no global step), with its charset, spec and config, into `target`; returns its size in bytes."""
    from plateocr.model.compat import tf1
    from plateocr.inference.graph_cache import build_inference_graph
    from plateocr.model.modeldir import CONFIG_FILE, ModelDir, checkpoint_step, write_checkpoint_state

    md = ModelDir(model_dir)
    ckpt = md.resolve_checkpoint()
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    g = build_inference_graph(md.config)
    with g.graph.as_default(), tf1.Session(graph=g.graph) as session:
        g.saver.restore(session, ckpt)
        prefix = g.saver.save(
            session,
            str(tmp / "ckpt"),
            global_step=checkpoint_step(ckpt) or 0,
            write_meta_graph=False,
            write_state=False,
        )
    write_checkpoint_state(tmp, prefix)
    for name in (CONFIG_FILE, CHARSET_FILE, SPEC_FILE):
        shutil.copyfile(md.path / name, tmp / name)
    doc = json.loads((tmp / CONFIG_FILE).read_text(encoding="utf-8"))
    doc["records_dir"] = None  # a path on the training machine means nothing in the package
    (tmp / CONFIG_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in tmp.iterdir())
    if size > max_bytes:
        shutil.rmtree(tmp)
        raise PlateOCRError(f"base model is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return size


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("work", type=Path, help="work folder (outside the repository)")
    p.add_argument("--minutes", type=float, default=None, help="stop training after this long (and save)")
    p.add_argument("--steps", type=int, default=13_000, help="total global steps to reach")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0, help="seeds the synthetic stream, the test set and TensorFlow")
    p.add_argument("--learning-rate", type=float, default=None, help="default: plateocr train's")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="cosine")
    p.add_argument("--endpoint", default=None, help="InceptionV3 final endpoint (default: plateocr's)")
    p.add_argument("--size", type=parse_size, default=CROP_SIZE, help="crop size HxW (default: plateocr crop's)")
    p.add_argument(
        "--pool",
        type=int,
        default=150_000,
        help="train on a fixed pool of this many pre-rendered crops with plateocr's augmentation, "
        "instead of the live stream (rendering is the bottleneck on few cores)",
    )
    p.add_argument("--test-count", type=int, default=1000, help="synthetic test crops")
    p.add_argument("--eval-every", type=int, default=2000, help="score the synthetic test set every N steps")
    p.add_argument("--shards", type=int, default=None, help="parallel crop generators (default: 4)")
    p.add_argument("--workers", type=int, default=2, help="processes for writing the test sets")
    p.add_argument("--log-every", type=int, default=200)
    p.add_argument("--real", type=Path, default=REAL_PLATES, help="real photos + annot.csv for a zero-shot test")
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start a new model from this checkpoint or model dir (an earlier base run) instead of "
        "from scratch: continued pretraining on a new pool",
    )
    p.add_argument("--force", action="store_true", help="start a new model in WORK/model")
    p.add_argument(
        "--fonts",
        type=Path,
        action="append",
        default=[],
        help="a folder of extra fonts to render plates with (repeatable), beside the system's",
    )
    p.add_argument(
        "--install-fonts",
        action="store_true",
        help="apt-get install the openly licensed font packages the renderer knows first",
    )
    p.add_argument(
        "--bf16",
        choices=("auto", "on", "off"),
        default="auto",
        help="bfloat16 mixed precision (oneDNN graph rewrite); auto: where the CPU has AVX512-BF16 or AMX",
    )
    p.add_argument("--export-base", action="store_true", help=f"copy the model into {BASE_MODEL_DIR}")
    p.add_argument("--export-dir", type=Path, default=BASE_MODEL_DIR, help="where --export-base writes")
    args = p.parse_args(argv)

    from plateocr.training.data import train_dataset
    from plateocr.training.evaluate import evaluate
    from plateocr.spec import DatasetSpec
    from plateocr.model.modeldir import ModelDir, checkpoint_step
    from plateocr.training.synthetic_data import DEFAULT_SHARDS, synthetic_train_dataset
    from plateocr.training.loop import train

    from plateocr.synth import outline_fonts

    if args.install_fonts:
        install_fonts()
    fonts = outline_fonts.FontChoice(True, tuple(str(d) for d in args.fonts))
    font_set = outline_fonts.use_fonts(fonts)
    print(
        f"rendering with {len(font_set.paths)} outline fonts: "
        f"{', '.join(Path(p).name for p in font_set.paths) or 'none (built-in faces only)'}",
        flush=True,
    )
    work = args.work.resolve()
    if work == REPO or REPO in work.parents:
        raise PlateOCRError(f"{work}: keep the work folder outside the repository")
    # Both test sets are written before TensorFlow starts: forking worker processes from a
    # process with TensorFlow's threads running can deadlock.
    size = tuple(args.size)
    records = make_synthetic_records(
        work, "test", args.test_count, args.seed + TEST_SEED_OFFSET, size, args.workers, split=0.0, fonts=fonts
    )
    pool = (
        make_synthetic_records(work, "pool", args.pool, args.seed, size, args.workers, 1.0, fonts=fonts)
        if args.pool
        else None
    )
    real_records = make_real_records(work, args.real, size, args.workers) if args.real else None
    model_dir = work / "model"
    charset = base_charset()
    start = 0  # a resumed run continues the synthetic stream where it stopped
    if ModelDir.exists(model_dir) and not args.force:
        latest = ModelDir(model_dir).latest_checkpoint()
        start = (checkpoint_step(latest) or 0) * args.batch_size if latest else 0

    def train_input(opts):
        if pool is not None:
            return train_dataset(pool, DatasetSpec.read(pool), opts.batch_size, augment=True, seed=args.seed)
        return synthetic_train_dataset(
            charset,
            MAX_LENGTH,
            opts.batch_size,
            seed=args.seed,
            size=size,
            keep_aspect=KEEP_ASPECT,
            augment=False,
            shards=args.shards or DEFAULT_SHARDS,
            start=start,
        )

    options = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "learning_rate": args.learning_rate,
        "schedule": args.schedule,
        "eval_every": args.eval_every,
        "summary_every": 200,
        "precision": {"auto": "auto", "on": "bfloat16", "off": "float32"}[args.bf16],
    }
    result = train(
        records,
        model_dir,
        options,
        config_overrides={"final_endpoint": args.endpoint},
        force=args.force,
        checkpoint=args.init,
        from_scratch=args.init is None,
        listener=PrintListener(args.log_every),
        time_limit=args.minutes * 60 if args.minutes else None,
        train_input=train_input,
        eval_split="test",  # the synthetic test set chooses best/ (no user plates here to keep apart)
    )
    report = {
        "seed": args.seed,
        "steps": result.last_step,
        "train_seconds": round(result.seconds, 1),
        "final_loss": result.final_loss,
        "checkpoint": result.checkpoint,
    }
    # best/, exported below, was chosen on this very set: a selected figure (chosen_on_scored_split in
    # the report); the real plates' zero-shot figure is free of that choice
    best = "best" if ModelDir(model_dir).best_checkpoint() else None
    synth = evaluate(model_dir, records, checkpoint=best).report()
    report["synthetic_test"] = synth
    print(
        f"synthetic test ({args.test_count}): char {synth['character_accuracy']:.3f} "
        f"seq {synth['sequence_accuracy']:.3f}",
        flush=True,
    )
    if real_records is not None:
        real = evaluate(model_dir, real_records).metrics()
        report["real_zero_shot"] = real
        print(
            f"real plates zero-shot ({args.real}): char {real['character_accuracy']:.3f} "
            f"seq {real['sequence_accuracy']:.3f}",
            flush=True,
        )
    if args.export_base:
        size = export_base(model_dir, args.export_dir)
        report["exported"] = {"path": str(args.export_dir), "bytes": size}
        print(f"exported the base model to {args.export_dir} ({size / 2**20:.1f} MiB)", flush=True)
    (work / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlateOCRError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
