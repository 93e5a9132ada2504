"""`plateocr tfrecords` as users run it: CLI options, messages, exit codes, and crop -> tfrecords."""

import csv
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import make_crops, make_photos
from fsns_tf import read_fsns
from plateocr.charset import Charset
from plateocr.cli import app
from plateocr.spec import DatasetSpec
from plateocr.defaults import CROP_SIZE


def plateocr(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "plateocr", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def texts(n):
    return [f"AB{i:02d}" for i in range(n)]


def test_cli_writes_records_and_prints_the_table(tmp_path):
    make_crops(tmp_path / "crops", texts(10))
    (tmp_path / "crops" / "plate0009.png").write_bytes(b"broken")
    result = CliRunner().invoke(
        app,
        [
            "tfrecords",
            str(tmp_path / "crops"),
            "--out",
            str(tmp_path / "rec"),
            "--split",
            "0.8",
            "--seed",
            "5",
            "--shards",
            "2",
            "--size",
            "64x256",
            "--stretch",
            "--val",
            "0.25",
        ],
    )
    assert result.exit_code == 0, result.output
    for word in ("split", "examples", "shards", "max length", "charset size", "train", "val", "test"):
        assert word in result.output
    assert "corrupt crop" in result.output and "plate0009.png" in result.output  # the skipped-rows table
    spec = DatasetSpec.read(tmp_path / "rec")
    assert spec.seed == 5 and sum(s.size for s in spec.splits.values()) == 9
    assert spec.extra["val_fraction"] == 0.25 and spec.splits["val"].size in (1, 2)  # 2 of the 8 planned
    assert len(list((tmp_path / "rec").glob("train-*-of-00002.tfrecord"))) == 2


def test_cli_errors_are_one_line_with_a_non_zero_exit(tmp_path):
    make_crops(tmp_path / "crops", texts(3))
    (tmp_path / "bad.csv").write_text("image,label\nplate0000.png,AB\n")
    r = plateocr("tfrecords", "bad.csv", cwd=tmp_path)
    assert r.returncode != 0
    assert r.stderr.strip().startswith("error: bad.csv: missing column(s) files, text")
    assert len(r.stderr.strip().splitlines()) == 1

    assert plateocr("tfrecords", "--split", "1.0", cwd=tmp_path).returncode == 0  # default crops/ -> records/
    r = plateocr("tfrecords", cwd=tmp_path)
    assert r.returncode == 3 and "--force" in r.stderr
    assert plateocr("tfrecords", "--force", cwd=tmp_path).returncode == 0


def test_cli_nothing_usable_exits_non_zero_and_says_why(tmp_path):
    make_crops(tmp_path / "crops", texts(2))
    for p in (tmp_path / "crops").glob("*.png"):
        p.unlink()
    r = plateocr("tfrecords", cwd=tmp_path)
    assert r.returncode == 1
    assert "no usable rows" in r.stderr and "crop file not found" in r.stderr
    assert not (tmp_path / "records" / "dataset.json").exists()


def test_reused_charset_from_the_cli(tmp_path):
    make_crops(tmp_path / "crops", texts(3))
    Charset(chars=(None, "A", "B", "0", "1")).write(tmp_path / "small.txt")
    r = plateocr("tfrecords", "--charset", "small.txt", "--split", "1.0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "'2'" in r.stderr  # AB02 cannot be written with this charset
    spec = DatasetSpec.read(tmp_path / "records")
    assert spec.num_classes == 5 and spec.splits["train"].size == 2


def test_importing_the_command_is_light():
    code = "import sys, plateocr.commands.tfrecords; print(sorted({'tensorflow', 'cv2'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_crop_then_tfrecords_in_one_working_directory(tmp_path):
    plates = [f"K{i:02d}LM" for i in range(12)]
    make_photos(
        tmp_path,
        [(f"car{i}.jpg", text, (40 + 7 * i, 200 + 7 * i, 100 + 3 * i, 140 + 3 * i)) for i, text in enumerate(plates)],
    )
    r = plateocr("crop", "annot.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = plateocr("tfrecords", "--split", "0.83", cwd=tmp_path)
    assert r.returncode == 0, r.stderr

    records = tmp_path / "records"
    spec = DatasetSpec.read(records)
    charset = Charset.read(records / "charset.txt")
    sizes = {name: s.size for name, s in spec.splits.items()}
    assert sizes == {"train": 8, "val": 2, "test": 2}  # --split 0.83: train and val; val: 2 of those 10
    examples = read_fsns(sorted(records.glob("*.tfrecord")), spec.max_sequence_length)
    assert sorted(charset.decode(e["class"]) for e in examples) == plates
    with open(tmp_path / "crops" / "labels.csv", newline="") as f:
        crops = {row["text"]: row["files"] for row in csv.DictReader(f)}
    for e in examples:  # the crop stage's PNGs travel into the records unchanged
        assert e["png"] == (tmp_path / "crops" / crops[e["text"]]).read_bytes()
    assert spec.margin is not None and tuple(spec.image_shape[:2]) == CROP_SIZE


def test_crop_then_tfrecords_on_real_plates_keeps_repeated_plates_in_one_split(tmp_path, real_plates):
    (tmp_path / "annot.csv").write_bytes((real_plates / "annot.csv").read_bytes())
    (tmp_path / "images").symlink_to(real_plates / "images")  # read from ../shared, never copied
    assert plateocr("crop", "annot.csv", cwd=tmp_path).returncode == 0
    r = plateocr("tfrecords", "--split", "0.83", cwd=tmp_path)
    assert r.returncode == 0, r.stderr

    from plateocr.records import plate_key

    spec = DatasetSpec.read(tmp_path / "records")
    records = tmp_path / "records"
    read = {s: read_fsns(sorted(records.glob(spec.splits[s].pattern)), spec.max_sequence_length) for s in spec.splits}
    train, val, test = read["train"], read["val"], read["test"]
    with open(real_plates / "annot.csv", newline="") as f:
        texts = [row["text"].strip() for row in csv.DictReader(f)]
    # The set's labels write the letter O for a zero on some Slovak and Czech plates; train and val
    # hold the suggested text, test the label as given, and label_checks.csv lists them all.
    with open(records / "label_checks.csv", newline="") as f:
        checks = {row["label"]: row for row in csv.DictReader(f)}
    assert {"RKO99AN", "RKO26AJ", "RKO82AL", "RK3OOAG", "4BO4979"} == set(checks)
    assert all(c["suggested"] == c["label"].replace("O", "0") for c in checks.values())
    assert all(c["written"] == (c["label"] if c["split"] == "test" else c["suggested"]) for c in checks.values())
    assert "look like O/0 or I/1 slips" in r.stderr and "4BO4979" in r.stderr
    written = [checks[t]["written"] if t in checks else t for t in texts]
    assert sorted(e["text"] for e in train + val + test) == sorted(written)
    assert {e["text"] for e in test} & set(checks) == {c["label"] for c in checks.values() if c["split"] == "test"}
    assert abs(len(train) + len(val) - 0.83 * len(texts)) <= 2
    assert abs(len(val) - 0.1 * (len(train) + len(val))) <= 2 and len(val) >= 5
    keys = {s: {plate_key(e["text"]) for e in read[s]} for s in read}
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"] and not keys["val"] & keys["test"]
    with open(tmp_path / "crops" / "labels.csv", newline="") as f:
        photo = {row["files"]: row["source"] for row in csv.DictReader(f)}
    png_photo = {(tmp_path / "crops" / name).read_bytes(): src for name, src in photo.items()}
    photos = {s: {png_photo[e["png"]] for e in read[s]} for s in read}
    assert not photos["train"] & photos["val"] and not photos["train"] & photos["test"]
    assert not photos["val"] & photos["test"]
    assert spec.max_sequence_length == max(map(len, texts))


def test_more_shards_than_examples_are_capped_with_a_note(tmp_path):
    make_crops(tmp_path / "crops", texts(12))
    r = plateocr("tfrecords", "--shards", "50", "--split", "0.83", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "note: --shards 50: the train split has 8 example(s), so 8 shard(s)" in r.stderr
    assert "note: --shards 50: the val split has 2 example(s), so 2 shard(s)" in r.stderr
    assert "note: --shards 50: the test split has 2 example(s), so 2 shard(s)" in r.stderr
    shards = sorted(p.name for p in (tmp_path / "records").glob("*.tfrecord"))
    assert len(shards) == 12 and all((tmp_path / "records" / s).stat().st_size > 0 for s in shards)
    assert "train-00007-of-00008.tfrecord" in shards


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_workers_below_one_are_refused_as_crop_refuses_them(tmp_path, workers):
    make_crops(tmp_path / "crops", texts(3))
    r = plateocr("tfrecords", "--workers", workers, cwd=tmp_path)
    assert r.returncode == 2 and "--workers" in r.stderr and "greater than or equal to 1" in r.stderr
    assert not (tmp_path / "records").exists()


def test_a_full_disk_is_a_one_line_error_naming_the_file_and_leaves_no_temp_file(tmp_path):
    import resource

    make_crops(tmp_path / "crops", texts(12))
    # as `ulimit -f`: a limit half the crops' bytes, so the train shard cannot be written
    limit = sum(p.stat().st_size for p in (tmp_path / "crops").glob("*.png")) // 2
    r = subprocess.run(
        [sys.executable, "-m", "plateocr", "tfrecords"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY)),
    )
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "error: records/train-00000-of-00001.tfrecord: cannot write it (File too large)"
    ]
    left = sorted(p.name for p in (tmp_path / "records").iterdir())
    assert not [n for n in left if n.endswith(".tmp")] and "dataset.json" not in left


def test_ctrl_c_with_worker_processes_prints_no_worker_tracebacks(tmp_path):
    # As a terminal's Ctrl-C does: one SIGINT to the whole process group, here sent by the first
    # worker to reach a crop (deterministic, no timing).
    script = (
        "import os, signal, sys\n"
        "from plateocr import records\n"
        "def ctrl_c(job):\n"
        "    try:\n"  # once, from whichever worker comes first: a terminal sends one SIGINT
        "        os.close(os.open('sent', os.O_CREAT | os.O_EXCL))\n"
        "    except FileExistsError:\n"
        "        return job\n"
        "    os.killpg(os.getpgid(0), signal.SIGINT)\n"
        "    return job\n"
        "records._worker_init()\n"  # the main process too: the pool's initializer is what is tested
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "try:\n"
        "    list(records._ordered_map(ctrl_c, range(64), workers=2))\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert r.stdout.strip() == "interrupted"
    assert "ForkPoolWorker" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_labels_csv_whose_crops_are_in_images_beside_it_reads_as_is(tmp_path, real_ar_plates):
    # ../shared/realplates/ar: labels.csv names files that lie in images/ beside it, the layout
    # `crop` reads photos from; tfrecords reads it directly, with no row skipped.
    out = tmp_path / "records"
    res = CliRunner().invoke(
        app, ["tfrecords", str(real_ar_plates / "labels.csv"), "--out", str(out), "--split", "0.83", "--workers", "1"]
    )
    assert res.exit_code == 0, res.output
    spec = DatasetSpec.read(out)
    assert sum(s.size for s in spec.splits.values()) == 147
