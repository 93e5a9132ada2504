"""scripts/train_base_model.py: a few steps on a small pool of synthetic crops give a loadable model dir,
scores on the fixed synthetic test set, and an exported variables-only base model."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT
from plateocr.charset import Charset
from plateocr.model.modeldir import ModelDir

SCRIPT = REPO_ROOT / "scripts" / "train_base_model.py"


@pytest.mark.slow
def test_pretrain_a_few_steps_evaluate_and_export(tmp_path):
    work, export = tmp_path / "work", tmp_path / "export"
    cmd = [
        sys.executable,
        str(SCRIPT),
        str(work),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--endpoint",
        "Mixed_5b",
        "--pool",
        "12",
        "--test-count",
        "4",
        "--workers",
        "1",
        "--real",
        str(tmp_path / "no_real_plates"),
        "--export-base",
        "--export-dir",
        str(export),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "synthetic test (4)" in done.stdout

    report = json.loads((work / "report.json").read_text())
    assert report["steps"] == 2 and np.isfinite(report["final_loss"])
    assert report["synthetic_test"]["examples"] == 4
    assert "real_zero_shot" not in report

    md = ModelDir(work / "model")
    assert md.charset == Charset.from_texts([]) and md.config.max_sequence_length == 10
    assert md.config.final_endpoint == "Mixed_5b" and md.latest_checkpoint().endswith("ckpt-2")

    from plateocr.model.compat import tf
    from plateocr.inference.reader import PlateReader

    base = ModelDir(export)
    ckpt = base.resolve_checkpoint()
    names = {n for n, _ in tf.train.list_variables(ckpt)}
    assert names and not any("Adam" in n or "global_step" in n for n in names)
    assert report["exported"]["bytes"] == sum(p.stat().st_size for p in export.iterdir())
    assert base.config_dict == {**md.config_dict} and base.charset == md.charset
    with PlateReader(export, cache_graph=False) as reader:
        reading = reader.read(np.full((40, 160, 3), 200, np.uint8))
    assert isinstance(reading.text, str) and 0.0 <= reading.confidence <= 1.0

    # running again resumes towards a larger --steps
    again = subprocess.run([*cmd[:3], "--steps", "3", *cmd[5:-3]], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((work / "report.json").read_text())["steps"] == 3

    # --init: continued pretraining in a new work folder starts from that model's weights and
    # architecture at step 0 (its own schedule), on its own pool
    work2 = tmp_path / "work2"
    cont = [
        sys.executable,
        str(SCRIPT),
        str(work2),
        "--init",
        str(work / "model"),
        "--steps",
        "1",
        "--batch-size",
        "2",
        "--pool",
        "8",
        "--test-count",
        "4",
        "--workers",
        "1",
        "--seed",
        "1",
        "--real",
        str(tmp_path / "no_real_plates"),
    ]
    done = subprocess.run(cont, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "training from step 0 to 1" in done.stdout
    md2 = ModelDir(work2 / "model")
    assert md2.config.final_endpoint == "Mixed_5b"  # from the --init model, not the default
    assert json.loads((work2 / "report.json").read_text())["steps"] == 1


def test_refuses_a_work_folder_inside_the_repository():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(REPO_ROOT / "base_work"), "--steps", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "outside the repository" in done.stderr
    assert not (REPO_ROOT / "base_work").exists()
