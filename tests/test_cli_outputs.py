"""Every command checks where it will write before it starts: an output under a regular file is a
one-line error naming both, not a traceback after the work (issue 17, B5)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO_ROOT
from test_cli_crop import cli


@pytest.mark.parametrize(
    "args, target",
    [
        (["tfrecords", "--out", "afile/sub"], "afile/sub"),
        (["train", "--model-dir", "afile/sub"], "afile/sub"),
        (["synth", "afile/sub", "--count", "1", "--no-system-fonts"], "afile/sub"),
        (["synth", "afile/sub", "--crops", "--count", "1", "--no-system-fonts"], "afile/sub"),
        (["predict", "x.png", "-o", "afile/x.csv"], "afile/x.csv"),
        (["predict", "x.png", "--attention", "afile/att"], "afile/att"),
        (["eval", "--errors", "afile/e.csv"], "afile/e.csv"),
    ],
)
def test_an_output_under_a_regular_file_is_refused_before_any_work(tmp_path, monkeypatch, capsys, args, target):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder")
    code, _, err = cli(args, monkeypatch, capsys)
    assert code == 1
    assert err.strip().splitlines() == [f"error: {target}: cannot create it: afile is a file, not a folder"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_predict_without_images_says_so_before_loading_the_model(tmp_path):
    code = (
        "import sys\n"
        "from plateocr.cli import main\n"
        "sys.argv = ['plateocr', 'predict']\n"
        "try:\n    main()\n"
        "except SystemExit as e:\n    print(e.code, 'tensorflow' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert run.stdout.split() == ["1", "False"], run.stderr
    assert run.stderr.strip() == "error: no images given (name files, globs, folders, or - to read paths from stdin)"
