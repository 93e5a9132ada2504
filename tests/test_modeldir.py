"""The self-describing model directory: creation, compatibility checks, checkpoint lookup."""

from __future__ import annotations

import json

import pytest

from plateocr.charset import Charset
from plateocr.errors import OutputExistsError, PlateOCRError
from plateocr.model.modeldir import ModelDir, checkpoint_step, write_checkpoint_state
from plateocr.spec import DatasetSpec, SplitSpec


def make_spec(charset: Charset, shape=(32, 96, 3), max_len=6) -> DatasetSpec:
    return DatasetSpec(
        splits={"train": SplitSpec("train-*.tfrecord", 5), "test": SplitSpec("test-*.tfrecord", 2)},
        charset_file="charset.txt",
        image_shape=shape,
        num_of_views=1,
        max_sequence_length=max_len,
        null_code=charset.null_code,
        num_classes=charset.num_classes,
    )


def fake_checkpoint(folder, step):
    for suffix in (".index", ".data-00000-of-00001"):
        (folder / f"ckpt-{step}{suffix}").write_bytes(b"weights %d" % step)
    return str(folder / f"ckpt-{step}")


@pytest.fixture
def charset():
    return Charset.from_texts(["AB12"])


@pytest.fixture
def model(tmp_path, charset):
    return ModelDir.create(
        tmp_path / "model",
        make_spec(charset),
        charset,
        {"endpoint": "Mixed_5b"},
        {"steps": 10},
        records_dir=tmp_path / "records",
    )


def test_create_writes_a_self_describing_folder(tmp_path, model, charset):
    again = ModelDir(tmp_path / "model")
    assert again.charset == charset
    assert again.spec.image_shape == (32, 96, 3) and again.spec.max_sequence_length == 6
    assert again.config_dict == {"endpoint": "Mixed_5b"}
    assert again.options == {"steps": 10}
    assert again.records_dir == (tmp_path / "records").resolve()
    doc = json.loads((tmp_path / "model" / "config.json").read_text())
    assert doc["version"] == 1


def test_update_records_the_latest_options(tmp_path, model):
    model.update(options={"steps": 20})
    assert ModelDir(tmp_path / "model").options == {"steps": 20}


def test_missing_or_foreign_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PlateOCRError, match="model directory not found"):
        ModelDir(tmp_path / "nope")
    (tmp_path / "other").mkdir()
    with pytest.raises(PlateOCRError, match="not a plateocr model directory"):
        ModelDir(tmp_path / "other")
    (tmp_path / "other" / "config.json").write_text("{not json")
    with pytest.raises(PlateOCRError, match="cannot read model config"):
        ModelDir(tmp_path / "other")


def test_create_refuses_existing_model_without_force(tmp_path, model, charset):
    latest = fake_checkpoint(model.path, 5)
    write_checkpoint_state(model.path, latest)
    (model.path / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--force"):
        ModelDir.create(model.path, make_spec(charset), charset, {}, {})
    fresh = ModelDir.create(model.path, make_spec(charset), charset, {"x": 1}, {}, force=True)
    assert fresh.latest_checkpoint() is None and fresh.config_dict == {"x": 1}
    assert (model.path / "notes.txt").read_text() == "mine"  # only our own files are removed


def test_latest_and_best_checkpoints(tmp_path, model):
    with pytest.raises(PlateOCRError, match="no checkpoint yet"):
        model.resolve_checkpoint()
    fake_checkpoint(model.path, 10)
    assert model.latest_checkpoint() == str(model.path / "ckpt-10")  # found without a state file
    c20 = fake_checkpoint(model.path, 20)
    write_checkpoint_state(model.path, c20)
    assert model.latest_checkpoint() == c20
    assert model.resolve_checkpoint() == c20  # no best yet: latest
    best = model.save_best(str(model.path / "ckpt-10"), {"sequence_accuracy": 0.5, "step": 10})
    assert best == str(model.path / "best" / "ckpt-10")
    assert model.resolve_checkpoint() == best and model.resolve_checkpoint("latest") == c20
    assert model.best_metrics()["sequence_accuracy"] == 0.5
    model.save_best(c20, {"sequence_accuracy": 0.7, "step": 20})
    assert sorted(p.name for p in model.best_dir.glob("ckpt-*")) == [
        "ckpt-20.data-00000-of-00001",
        "ckpt-20.index",
    ]
    assert checkpoint_step(model.best_checkpoint()) == 20
    assert model.resolve_checkpoint(str(model.path / "ckpt-10")) == str(model.path / "ckpt-10")
    assert model.resolve_checkpoint(model.best_dir) == str(model.best_dir / "ckpt-20")
    with pytest.raises(PlateOCRError, match="checkpoint not found"):
        model.resolve_checkpoint(str(model.path / "ckpt-99"))


def test_state_file_naming_a_deleted_checkpoint_falls_back(tmp_path, model):
    fake_checkpoint(model.path, 3)
    write_checkpoint_state(model.path, model.path / "ckpt-7")
    assert model.latest_checkpoint() == str(model.path / "ckpt-3")


def test_check_compatible(tmp_path, model, charset):
    model.check_compatible(make_spec(charset), charset, tmp_path / "records")
    other = Charset.from_texts(["AB12", "Ö"])
    with pytest.raises(PlateOCRError, match="charset .* differs"):
        model.check_compatible(make_spec(other), other, tmp_path / "records")
    with pytest.raises(PlateOCRError, match="image_shape"):
        model.check_compatible(make_spec(charset, shape=(64, 256, 3)), charset, tmp_path / "records")
    with pytest.raises(PlateOCRError, match="max_sequence_length"):
        model.check_compatible(make_spec(charset, max_len=10), charset, tmp_path / "records")


def test_checkpoint_step():
    assert checkpoint_step("model/ckpt-1200") == 1200
    assert checkpoint_step("model/weights") is None


def test_a_best_checkpoint_whose_files_are_gone_is_an_error_not_a_silent_fall_back(tmp_path, model):
    c5 = fake_checkpoint(model.path, 5)
    write_checkpoint_state(model.path, c5)
    model.save_best(c5, {"sequence_accuracy": 0.5, "step": 5})
    (model.best_dir / "ckpt-5.index").unlink()
    with pytest.raises(PlateOCRError, match=r"best: the best checkpoint's files are missing .*--checkpoint latest"):
        model.resolve_checkpoint()
    assert model.resolve_checkpoint("latest") == c5


def test_a_failed_copy_into_best_keeps_the_earlier_best_and_leaves_no_partial_files(tmp_path, model, monkeypatch):
    import shutil

    c5, c9 = fake_checkpoint(model.path, 5), fake_checkpoint(model.path, 9)
    model.save_best(c5, {"step": 5})
    copy = shutil.copyfile
    calls = []

    def full_disk(src, dst):
        calls.append(src)
        if len(calls) == 2:  # the second file of ckpt-9
            raise OSError(27, "File too large")
        return copy(src, dst)

    monkeypatch.setattr(shutil, "copyfile", full_disk)
    with pytest.raises(PlateOCRError, match=r"best/ckpt-9\.\S+: cannot write it \(File too large\)"):
        model.save_best(c9, {"step": 9})
    assert sorted(p.name for p in model.best_dir.iterdir()) == [
        "checkpoint",
        "ckpt-5.data-00000-of-00001",
        "ckpt-5.index",
        "metrics.json",
    ]
    assert model.best_checkpoint() == str(model.best_dir / "ckpt-5")


def test_checkpoints_are_listed_oldest_step_first(tmp_path, model):
    for step in (12, 3, 100):
        fake_checkpoint(model.path, step)
    assert [checkpoint_step(p) for p in model.checkpoints()] == [3, 12, 100]


def test_training_resumes_from_the_latest_else_the_best_checkpoint(tmp_path, model):
    assert model.resume_checkpoint() is None  # a new model
    c5 = fake_checkpoint(model.path, 5)
    model.save_best(c5, {"step": 5})
    assert model.resume_checkpoint() == c5
    for p in model.path.glob("ckpt-5.*"):
        p.unlink()
    assert model.resume_checkpoint() == str(model.best_dir / "ckpt-5")  # never random weights
    (model.best_dir / "ckpt-5.index").unlink()
    assert model.resume_checkpoint() is None
