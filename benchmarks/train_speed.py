"""Training speed and peak memory of the attention OCR graph on this machine's CPU.

Each configuration runs in its own subprocess (so its peak RSS, from getrusage in the child, is
its own): a synthetic random uint8 batch held in memory and fed by tf.data with prefetch (no
decoding, no augmentation), momentum 0.9, learning rate 0.004, global-norm clip 2.0, batch-norm
updates, no summaries: the training step itself.

Rows:
- upstream (reference doc): the upstream attention_ocr code measured earlier on this machine
  (2 cores, TF 2.21): 0.63 s/step at batch 8, 1.3-1.4 s/step at batch 32; 3.3-3.6 GB and
  5.4 GiB peak RSS. Not re-run here (it needs its own checkout); note that its figures include
  its input pipeline (PNG decoding, augmentation, a 3000-image decoded shuffle buffer of
  ~1.8 GB), which this benchmark leaves out.
- naive (measured in this run): the same graph run the way upstream's loop runs it: the batch
  fed from Python (feed_dict) every step, TensorFlow's defaults (thread pools; oneDNN kernels
  off, TensorFlow's default on CPUs without AVX-512 VNNI/BF16/AMX such as this one).
- plateocr: tf.data input with prefetch, compat.session_config() (intra-op = cores, inter-op
  1), oneDNN kernels on (plateocr.model.compat turns them on); "2 micro-batches" splits the
  batch in two halves run one after the other (plateocr.training.train_step) to bound memory.
- --variants adds inter-op 2, oneDNN off and XLA auto-clustering rows.
- --compare-with DIR adds the same 200x200 rows run with the plateocr package in DIR (an older
  commit: `git archive <commit> plateocr | tar -x -C DIR`), a before/after under the same load.
Ratios compare each row with the upstream figure at the same batch size. The machine is shared:
wall-clock figures rise with the load average (shown per row); CPU s/step (CPU time of all the
process's threads per step) moves much less with load.

    /work/venv/bin/python benchmarks/train_speed.py            # reference config b8/b32 + default
    /work/venv/bin/python benchmarks/train_speed.py --quick    # fewer steps

Where the time goes (batch 32, 200x200, oneDNN, per-op trace): convolution filter gradients
~37%, convolutions ~20%, convolution input gradients ~19%, batch norm ~8%, the attention
decoder forward and backward ~6-10%, pooling ~3%; L2 terms and clipping <0.1%. The step is
~195 GFLOP (the tower's convolutions 62 GFLOP forward, x3 with the gradients), so 19 images/s
at batch 32 (1.68 s/step) needs ~116 GFLOP/s sustained from the 2 cores. Every run also
measures the machine's dense matmul rate (2048x2048 float32, the best case for these kernels)
and prints the images/s that rate would allow at that step cost: the ceiling for any
implementation of this model on this CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

# The reference graph (upstream_variables.txt) and plateocr's default input (64x256 crops).
REFERENCE = dict(
    image_shape=[200, 200, 3],
    num_of_views=1,
    max_sequence_length=10,
    num_classes=37,
    null_code=36,
    use_coordinates=False,
)
DEFAULT = dict(
    image_shape=[64, 256, 3],
    num_of_views=1,
    max_sequence_length=10,
    num_classes=37,
    null_code=0,
    use_coordinates=True,
)
# Upstream figures from ../shared/reference/attention-ocr.md (same machine, earlier).
# (s/step, peak RSS bytes): batch 8 "3.3-3.6 GB", batch 32 "5.4 GiB".
UPSTREAM = {8: (0.63, 3.45e9), 32: (1.35, 5.4 * 2**30)}


# GFLOP per 200x200 image per training step (forward + both gradients of the tower's
# convolutions, the decoder and batch norm; from the per-op trace above: ~195 at batch 32).
REFERENCE_GFLOP_PER_IMAGE = 195 / 32


# -- child: one configuration -------------------------------------------------------------
def measure_matmul(n: int = 2048, repeats: int = 5) -> dict:
    """The best GFLOP/s of an n x n float32 matmul with the benchmark's 2 intra-op threads."""
    from plateocr.model.compat import tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    a, b = tf.random.normal([n, n], seed=1), tf.random.normal([n, n], seed=2)
    product = tf.function(lambda: tf.matmul(a, b))
    product().numpy()
    best = min(_timed(lambda: product().numpy()) for _ in range(repeats))
    return {"gflops": 2 * n**3 / best / 1e9}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(job: dict) -> dict:
    if job.get("kind") == "matmul":
        return measure_matmul()
    import resource

    import numpy as np

    from plateocr.model import compat
    from plateocr.model.compat import tf, tf1
    from plateocr.model.config import ModelConfig
    from plateocr.training.train_step import build_train_step

    config = ModelConfig(**job["config"])
    batch = job["batch"]
    rng = np.random.default_rng(0)
    images_np = rng.integers(0, 256, (batch, *config.image_shape), dtype=np.uint8)
    labels_np = rng.integers(0, config.num_classes, (batch, config.max_sequence_length)).astype(np.int32)

    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(0)
        if job["feed"]:
            images = tf1.placeholder(tf.uint8, [batch, *config.image_shape])
            labels = tf1.placeholder(tf.int32, [batch, config.max_sequence_length])
        else:
            ds = tf.data.Dataset.from_tensors((images_np, labels_np)).repeat().prefetch(2)
            images, labels = tf1.data.make_one_shot_iterator(ds).get_next()
        step = build_train_step(
            images,
            labels,
            config,
            tf1.train.MomentumOptimizer(0.004, 0.9),
            clip_norm=2.0,
            micro_batches=job["micro_batches"],
        )
        train_op, loss = step.train_op, step.losses.total
        init = tf1.global_variables_initializer()
    graph.finalize()

    if job["threads"]:
        session_config = compat.session_config(job["threads"], job["inter_op"])
    else:
        session_config = tf1.ConfigProto()  # TensorFlow's defaults
    if job["xla"]:
        session_config.graph_options.optimizer_options.global_jit_level = tf1.OptimizerOptions.ON_1
    feed = {images: images_np, labels: labels_np} if job["feed"] else None
    with tf1.Session(graph=graph, config=session_config) as sess:
        sess.run(init)
        t0 = time.perf_counter()
        sess.run(train_op, feed)
        first = time.perf_counter() - t0
        for _ in range(job["warmup"]):
            sess.run(train_op, feed)
        times = []
        cpu0 = time.process_time()
        for _ in range(job["steps"]):
            t0 = time.perf_counter()
            value, _ = sess.run([loss, train_op], feed)
            times.append(time.perf_counter() - t0)
        cpu = (time.process_time() - cpu0) / job["steps"]
        if not np.isfinite(value):
            raise RuntimeError(f"loss is {value}")
    return {
        "first_step_s": first,
        "times": times,
        "cpu_s": cpu,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB on Linux
        "load": os.getloadavg()[0],
    }


def merge(runs: list[dict], batch: int) -> dict:
    """One row from the rounds of one configuration."""
    import statistics

    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    times = [t for r in ok for t in r["times"]]
    median, best = statistics.median(times), min(times)
    return {
        "step_s": median,
        "step_best_s": best,
        "images_per_s": batch / median,
        "images_per_s_best": batch / best,
        "cpu_s": statistics.median(r["cpu_s"] for r in ok),
        "peak_rss": max(r["peak_rss"] for r in ok),
        "first_step_s": statistics.median(r["first_step_s"] for r in ok),
        "load": statistics.mean(r["load"] for r in ok),
        "steps": len(times),
    }


def run_child(job: dict, timeout: float) -> dict:
    """One job in a fresh interpreter; its last stdout line is the JSON result."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(job)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_ENABLE_ONEDNN_OPTS="1" if job["onednn"] else "0")
    if job.get("code"):  # another plateocr tree (--compare-with): first on the path
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [job["code"], env.get("PYTHONPATH")]))
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- parent: the table ----------------------------------------------------------------------
def jobs(args) -> list[tuple[str, dict]]:
    base = dict(
        steps=args.steps,
        warmup=args.warmup,
        threads=2,
        inter_op=1,
        xla=False,
        feed=False,
        onednn=True,
        micro_batches=1,
    )
    naive = dict(base, feed=True, threads=0, onednn=False)
    plan = []
    for batch in args.batches:
        if not args.no_naive:
            plan.append(("naive 200x200", dict(naive, config=REFERENCE, batch=batch)))
        trees = [("", None)] + ([(f"{args.compare_label} ", args.compare_with)] if args.compare_with else [])
        for label, code in trees:
            plan.append((f"{label}plateocr 200x200", dict(base, config=REFERENCE, batch=batch, code=code)))
            for parts in args.micro_batches:
                if parts > 1 and batch >= 16 and batch % parts == 0:
                    plan.append(
                        (
                            f"{label}plateocr 200x200, {parts} micro-batches",
                            dict(base, config=REFERENCE, batch=batch, micro_batches=parts, code=code),
                        )
                    )
        if args.variants:
            plan.append(("plateocr 200x200, inter-op 2", dict(base, config=REFERENCE, batch=batch, inter_op=2)))
            plan.append(("plateocr 200x200, oneDNN off", dict(base, config=REFERENCE, batch=batch, onednn=False)))
            plan.append(("plateocr 200x200, XLA", dict(base, config=REFERENCE, batch=batch, xla=True)))
    for batch in args.batches:
        plan.append(("plateocr 64x256 (default input)", dict(base, config=DEFAULT, batch=batch)))
    return plan


def gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after the first")
    parser.add_argument("--variants", action="store_true", help="also inter-op 2, oneDNN off, XLA")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive rows")
    parser.add_argument(
        "--micro-batches", type=int, nargs="*", default=[2, 4], help="micro-batch rows for batches >= 16"
    )
    parser.add_argument("--rounds", type=int, default=1, help="run every row this many times, in turn")
    parser.add_argument("--quick", action="store_true", help="3 timed steps, 1 warm-up")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--compare-with",
        metavar="DIR",
        help="also run the 200x200 rows with the plateocr package found in DIR (e.g. "
        "`git archive <commit> plateocr | tar -x -C DIR`): a before/after in one run",
    )
    parser.add_argument("--compare-label", default="before", help="row label for --compare-with")
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return 0
    if args.quick:
        args.steps, args.warmup = 3, 1

    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    plan = jobs(args)
    runs: list[list[dict]] = [[] for _ in plan]
    # Rounds run every configuration in turn, so load from other users spreads over all rows.
    for round_no in range(args.rounds):
        for (name, job), row_runs in zip(plan, runs):
            with console.status(f"round {round_no + 1}/{args.rounds}: {name}, batch {job['batch']} ..."):
                result = run_child(job, timeout=900)
            row_runs.append(result)
            if "error" in result:
                console.print(f"[red]{name} batch {job['batch']}: {result['error']}")
    results = [(name, job, merge(row_runs, job["batch"])) for (name, job), row_runs in zip(plan, runs)]

    table = Table(
        title=f"Training step, attention OCR, {os.cpu_count()} CPU cores "
        f"({args.rounds} round(s) x {args.steps} timed steps per row)",
        caption="best: the fastest step (least disturbed by other processes); x up: ratio to the "
        "upstream figure at the same batch, on best steps (images/s: higher is better; RSS: lower "
        "is better). CPU s/step: CPU time of all threads per step. load: 1-min load average.",
    )
    for col in (
        "configuration",
        "batch",
        "s/step",
        "best s/step",
        "images/s",
        "best images/s",
        "x up",
        "CPU s/step",
        "peak RSS",
        "x up RSS",
        "1st step",
        "load",
    ):
        table.add_column(col, justify="left" if col == "configuration" else "right")
    for batch in args.batches:
        if batch in UPSTREAM:
            s, rss = UPSTREAM[batch]
            table.add_row(
                "upstream 200x200 (reference doc)",
                str(batch),
                f"{s:.2f}",
                "",
                f"{batch / s:.1f}",
                "",
                "1.00",
                "",
                gb(rss),
                "1.00",
                "",
                "",
            )
    for name, job, r in results:
        if "error" in r:
            table.add_row(name, str(job["batch"]), "error", *[""] * 9)
            continue
        up = UPSTREAM.get(job["batch"])
        table.add_row(
            name,
            str(job["batch"]),
            f"{r['step_s']:.3f}",
            f"{r['step_best_s']:.3f}",
            f"{r['images_per_s']:.1f}",
            f"{r['images_per_s_best']:.1f}",
            f"{r['images_per_s_best'] / (job['batch'] / up[0]):.2f}" if up else "",
            f"{r['cpu_s']:.2f}",
            gb(r["peak_rss"]),
            f"{r['peak_rss'] / up[1]:.2f}" if up else "",
            f"{r['first_step_s']:.1f} s",
            f"{r['load']:.1f}",
        )
    console.print(table)
    peak = run_child({"kind": "matmul", "onednn": True}, timeout=300)
    if "gflops" in peak:
        console.print(
            f"this CPU's dense matmul rate: {peak['gflops']:.0f} GFLOP/s; at ~{REFERENCE_GFLOP_PER_IMAGE:.1f} GFLOP per "
            f"200x200 image per training step that allows at most {peak['gflops'] / REFERENCE_GFLOP_PER_IMAGE:.1f} "
            f"images/s (the 1.5x-upstream target is {1.5 * 8 / UPSTREAM[8][0]:.1f})"
        )
    console.print(
        f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "(other processes share the cores; timings are noisy above ~2)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"name": n, **j, **r} for n, j, r in results], f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
