"""Speed of synthetic crop generation (plateocr.synth.crops) against baselines measured in the
same run:

- render_plate(degrade=True) alone: the bare plate the crop starts from (the floor);
- render_crop: a full crop (plate + holder, perspective onto a car patch, light, blur, noise,
  JPEG, low resolution, imprecise box, crop_one) - target >= 300 crops/s per core;
- synthetic_train_dataset batches (tf.data, parallel generator shards), with --tf.

Per-core figures use the process's CPU time (the machine may be shared); wall-clock rates are
shown beside them. Best of --rounds.

    python benchmarks/synth_crops_speed.py [--count 500] [--rounds 3] [--tf]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

TARGET_PER_CORE = 300


def _rate(fn, count: int, rounds: int) -> tuple[float, float]:
    """(items per CPU-second, items per wall-second), best round."""
    best_cpu = best_wall = 0.0
    for _ in range(rounds):
        c, w = time.process_time(), time.perf_counter()
        fn(count)
        best_cpu = max(best_cpu, count / max(time.process_time() - c, 1e-9))
        best_wall = max(best_wall, count / max(time.perf_counter() - w, 1e-9))
    return best_cpu, best_wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tf", action="store_true", help="also time the tf.data pipeline (imports TensorFlow)")
    args = p.parse_args()
    cv2.setNumThreads(1)

    from plateocr.synth import render_plate
    from plateocr.synth.crops import crop_rng, render_crop

    def plates(n):
        for i in range(n):
            render_plate(crop_rng(1, i))

    def crops(n):
        for i in range(n):
            render_crop(crop_rng(1, i))

    plates(20), crops(20)  # warm-up
    rows = [("render_plate (baseline)", *_rate(plates, args.count, args.rounds))]
    rows.append(("render_crop", *_rate(crops, args.count, args.rounds)))
    if args.tf:
        from plateocr.charset import Charset
        from plateocr.training.synthetic_data import synthetic_train_dataset

        for shards in (1, 4):
            it = iter(synthetic_train_dataset(Charset.from_texts([]), 10, 32, seed=1, shards=shards))
            next(it)

            def batches(n, it=it):
                for _ in range(n // 32):
                    next(it)

            cpu, wall = _rate(batches, max(32, args.count // 32 * 32), args.rounds)
            rows.append((f"tf.data, {shards} shard(s)", float("nan"), wall))

    table = Table(title="synthetic crops (64x256)")
    for name in ("variant", "per CPU-second", "per wall-second", "vs baseline (CPU)"):
        table.add_column(name, justify="right" if name != "variant" else "left")
    base = rows[0][1]
    for name, cpu, wall in rows:
        table.add_row(
            name, "-" if np.isnan(cpu) else f"{cpu:.0f}", f"{wall:.0f}", "-" if np.isnan(cpu) else f"{cpu / base:.2f}x"
        )
    console = Console()
    console.print(table)
    crop_cpu = rows[1][1]
    verdict = "meets" if crop_cpu >= TARGET_PER_CORE else "misses"
    console.print(f"render_crop: {crop_cpu:.0f} crops/s per core, {verdict} the target of {TARGET_PER_CORE}")


if __name__ == "__main__":
    main()
