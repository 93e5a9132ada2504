"""Evaluation: every example exactly once, scored as predict reads it; the eval command."""

from __future__ import annotations

import csv
import json

import pytest
from test_data import TEXTS, write_records
from typer.testing import CliRunner

from plateocr.errors import PlateOCRError
from plateocr.training.evaluate import EvalResult, ExampleResult, evaluate
from plateocr.model.metrics import accuracy_counts

TINY = {"final_endpoint": "MaxPool_5a_3x3", "batch_norm_decay": 0.9}
FAST = {"batch_size": 5, "optimizer": "adam", "learning_rate": 0.003, "augment": False, "seed": 1, "eval_every": 0}
PLATES = TEXTS[:5]


@pytest.fixture(scope="module")
def memorised(tmp_path_factory):
    """A model that reads PLATES (trained on them), and records to score it on."""
    from plateocr.training.loop import train

    root = tmp_path_factory.mktemp("eval")
    # test: the same images, two of them labelled with other texts (so exactly 3/5 are right)
    relabelled = [(t, t) for t in PLATES]
    relabelled[1] = (PLATES[1], "CD346")
    relabelled[3] = (PLATES[3], "GH7")
    write_records(root / "records", {"train": PLATES, "test": relabelled})
    train(root / "records", root / "model", {**FAST, "steps": 60}, config_overrides=TINY)
    return root


def _example(i, truth, prediction, confidence=0.5):
    from plateocr.charset import Charset

    cs = Charset.from_texts([truth, prediction])

    def pad(t):
        return [cs.pad(cs.encode(t), 8)]

    return ExampleResult(i, truth, prediction, confidence, accuracy_counts(pad(prediction), pad(truth), cs.null_code))


def test_result_metrics_and_worst_errors(tmp_path):
    r = EvalResult("test", "model/ckpt-5", 5)
    r.examples = [
        _example(0, "AB12", "AB12", 0.9),
        _example(1, "CD34", "CD3", 0.8),  # 3 of 4 characters, sequence wrong
        _example(2, "EF56", "XY56", 0.2),  # 2 of 4
        _example(3, "GH78", "ZZZZ", 0.95),  # 0 of 4, confidently wrong: the worst
    ]
    assert r.character_accuracy == pytest.approx(9 / 16)
    assert r.sequence_accuracy == pytest.approx(1 / 4)
    assert r.mean_confidence == pytest.approx((0.9 + 0.8 + 0.2 + 0.95) / 4)
    assert [e.index for e in r.worst_errors(2)] == [3, 2]
    r.write_errors_csv(tmp_path / "errors.csv")
    rows = list(csv.DictReader(open(tmp_path / "errors.csv", encoding="utf-8")))
    assert [(row["index"], row["truth"], row["prediction"]) for row in rows] == [
        ("1", "CD34", "CD3"),
        ("2", "EF56", "XY56"),
        ("3", "GH78", "ZZZZ"),
    ]
    assert r.metrics()["errors_o_vs_0_only"] == 0 and r.sequence_accuracy_o_is_0 == r.sequence_accuracy
    assert r.better_than({"sequence_accuracy": 0.25, "character_accuracy": 0.5})
    assert not r.better_than({"sequence_accuracy": 0.5, "character_accuracy": 0.1})


def test_mistakes_only_in_o_against_0_are_told_apart(tmp_path, capsys):
    from plateocr.commands.eval import _print_tables

    r = EvalResult("test", "model/ckpt-5", 5)
    r.examples = [
        _example(0, "AB12", "AB12"),
        _example(1, "RKO99AN", "RK099AN", 0.9),  # the label writes O where the plate shows 0
        _example(2, "BA302OZ", "BA3020Z", 0.8),
        _example(3, "CD34", "CO34", 0.7),  # a real misreading
    ]
    assert r.sequence_accuracy == pytest.approx(1 / 4)  # the score stays strict
    assert [e.index for e in r.o_vs_0_errors] == [1, 2]
    m = r.metrics()
    assert m["errors"] == 3 and m["errors_o_vs_0_only"] == 2
    assert m["sequence_accuracy_o_is_0"] == pytest.approx(3 / 4)
    r.write_errors_csv(tmp_path / "errors.csv")
    rows = list(csv.DictReader(open(tmp_path / "errors.csv", encoding="utf-8")))
    assert [row["o_vs_0_only"] for row in rows] == ["1", "1", "0"]
    _print_tables(r, 10)
    out = capsys.readouterr().out
    assert "if O = 0" in out and "0.7500" in out
    assert out.count("check the label") == 2 + 1  # the metrics row and the two mistakes


@pytest.mark.slow
def test_eval_scores_every_example_once_with_the_truths_of_the_split(memorised):
    res = evaluate(memorised / "model", split="test", batch_size=2)  # 5 examples, batches 2+2+1
    assert res.num_examples == 5 and [e.index for e in res.examples] == list(range(5))
    assert sorted(e.truth for e in res.examples) == ["AB12", "CD346", "EF6", "GH7", "K9"]  # the test split's labels
    # The train split holds the same images under their own labels: read alike, scored against other truths.
    # (What the model reads after 60 steps depends on the CPU's arithmetic; these comparisons do not.)
    on_train = evaluate(memorised / "model", split="train", batch_size=2)
    pairs = [(t.truth, e.truth) for t, e in zip(on_train.examples, res.examples)]  # the same order of images
    assert sorted(pairs) == sorted(zip(PLATES, ["AB12", "CD346", "EF6", "GH7", "K9"]))
    assert [e.prediction for e in res.examples] == [e.prediction for e in on_train.examples]
    assert {e.truth for e in res.errors} == {e.truth for e in res.examples if e.prediction != e.truth}
    assert {"CD346", "GH7"} <= {e.truth for e in res.errors}  # labels no image shows are never read
    assert res.sequence_accuracy == pytest.approx(1 - len(res.errors) / 5)
    assert on_train.sequence_accuracy >= 3 / 5  # it learnt its plates, so the comparisons say something
    # batching does not change anything
    again = evaluate(memorised / "model", split="test", batch_size=3)
    assert [(e.truth, e.prediction, round(e.confidence, 5)) for e in again.examples] == [
        (e.truth, e.prediction, round(e.confidence, 5)) for e in res.examples
    ]


@pytest.mark.slow
def test_eval_command_tables_json_and_errors_csv(memorised, monkeypatch):
    from plateocr.cli import app

    monkeypatch.chdir(memorised)  # defaults: model/, the records recorded in model/config.json
    runner = CliRunner()
    out = runner.invoke(app, ["eval", "--json"])
    assert out.exit_code == 0, out.output
    metrics = json.loads(out.stdout)  # only JSON on stdout
    assert metrics["examples"] == 5 and metrics["split"] == "test"
    assert metrics["errors"] == len(evaluate(memorised / "model", split="test").errors)
    # records without a val split: training kept the latest checkpoint, and eval says so
    assert metrics["checkpoint_choice"] == "latest" and metrics["chosen_on"] is None
    assert metrics["choice"] == "latest = step 60, chosen on no split"
    assert metrics["notes"] == [
        f"{memorised / 'records'} has no val split: training kept the latest checkpoint, chosen on no split"
    ]
    assert "note: " in out.stderr and "has no val split" in out.stderr
    out = runner.invoke(app, ["eval", "--split", "train", "--errors", "mistakes.csv"])
    assert out.exit_code == 0, out.output
    assert "full-sequence accuracy" in out.stdout and "latest = step 60, chosen on no split" in out.stdout
    assert (memorised / "mistakes.csv").read_text().startswith("index,truth,prediction")
    out = runner.invoke(app, ["eval", "--errors", "mistakes.csv"])  # never overwrite without --force
    assert out.exit_code != 0


def test_missing_model_and_bad_split_are_clear_errors(tmp_path):
    with pytest.raises(PlateOCRError, match="model directory not found"):
        evaluate(tmp_path / "model")
    from plateocr.model.config import ModelConfig
    from plateocr.model.modeldir import ModelDir

    spec, charset = write_records(tmp_path / "records", {"train": PLATES})
    ModelDir.create(
        tmp_path / "model", spec, charset, ModelConfig.from_spec(spec), {}, records_dir=tmp_path / "records"
    )
    with pytest.raises(PlateOCRError, match="no checkpoint yet"):
        evaluate(tmp_path / "model")
    (tmp_path / "model" / "ckpt-1.index").write_bytes(b"")
    with pytest.raises(PlateOCRError, match="no split 'test'"):
        evaluate(tmp_path / "model", split="test")
    with pytest.raises(PlateOCRError, match="ckpt-1: cannot restore .*too short"):
        evaluate(tmp_path / "model", split="train")  # an unreadable checkpoint


@pytest.mark.slow
def test_eval_without_a_model_scores_the_bundled_base_model(tmp_path, monkeypatch):
    """Before training, `eval --split train` reads the user's labelled plates with the base model
    (to find labels worth checking); --no-tta scores one view per plate."""
    import plateocr.base_model
    from conftest import BUNDLED_BASE_MODEL

    from plateocr.base_model import bundled_base_model
    from plateocr.charset import Charset
    from plateocr.cli import app

    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", BUNDLED_BASE_MODEL)
    # as `tfrecords` writes a user's labels by default: padded to the longest label (not the
    # model's 10), crops at another size, and a character the model has never read
    plates = ["AB123CD", "XY4567", "K9LM22", "ÄB12"]
    charset = Charset.from_texts(plates)
    write_records(tmp_path / "records", {"train": plates}, size=(32, 96), max_len=7, charset=charset)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for flags, tta in (([], True), (["--no-tta"], False)):
        out = runner.invoke(app, ["eval", "--split", "train", "--json", *flags])
        assert out.exit_code == 0, out.output
        assert "evaluating the bundled base model" in out.stderr
        metrics = json.loads(out.stdout)
        expected = evaluate(bundled_base_model(), tmp_path / "records", split="train", tta=tta).metrics()
        assert metrics["examples"] == 4 and metrics["checkpoint"] == expected["checkpoint"]
        assert metrics["errors"] >= 1 and metrics["sequence_accuracy"] <= 0.75  # ÄB12 is never read right
        assert metrics["character_accuracy"] == pytest.approx(expected["character_accuracy"])
        assert metrics["mean_confidence"] == pytest.approx(expected["mean_confidence"], rel=1e-4)


def test_evaluate_checks_the_split_once_and_reports_its_backend(tmp_path, monkeypatch):
    from tiny_model import random_model_dir

    from plateocr.charset import Charset
    from plateocr.training import evaluate as evaluation

    charset = Charset.from_texts(TEXTS[:5])
    write_records(tmp_path / "records", {"test": TEXTS[:5]}, charset=charset)
    model = random_model_dir(tmp_path / "model", charset=charset).path
    calls, check = [], evaluation._check_split
    monkeypatch.setattr(evaluation, "_check_split", lambda *args: calls.append(args) or check(*args))
    result = evaluate(model, tmp_path / "records", backend="tensorflow")
    assert result.num_examples == 5 and len(calls) == 1
    report = result.report()
    assert (report["backend"], report["backend_note"]) == ("tensorflow", None)


def test_a_damaged_test_shard_is_named(tmp_path):
    from tiny_model import random_model_dir

    from plateocr.charset import Charset

    charset = Charset.from_texts(TEXTS[:5])
    write_records(tmp_path / "records", {"train": TEXTS[:5], "test": TEXTS[:5]}, charset=charset)
    model = random_model_dir(tmp_path / "model", charset=charset).path
    shard = tmp_path / "records" / "test-00001-of-00002.tfrecord"
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size - 500)
    with pytest.raises(PlateOCRError) as e:
        evaluate(model, tmp_path / "records", tta=False)
    assert str(e.value).startswith(f"{shard}: damaged records file (cut short in record ")


@pytest.mark.slow
def test_eval_reads_real_crops_as_the_tensorflow_evaluator_does(tmp_path, bundled_base_model_float32):
    """evaluate() reads through PlateReader (LiteRT here); training's Evaluator reads the same
    records on its TensorFlow graph: the same figures on real crops (data/sample's first 64
    plates; the bundled base model converted with float32 weights), with formats on, and the same
    mistakes, O/0 marks and errors CSV."""
    from conftest import REPO_ROOT, write_csv

    from plateocr.cropping import crop_annotations
    from plateocr.formats import Formats
    from plateocr.model.modeldir import ModelDir
    from plateocr.records import RecordsOptions, write_records as write_crop_records
    from plateocr.spec import DatasetSpec
    from plateocr.training.evaluate import Evaluator

    base = bundled_base_model_float32
    md = ModelDir(base)
    sample = REPO_ROOT / "data" / "sample"
    with open(sample / "annot.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:65]
    annot = write_csv(tmp_path / "annot.csv", rows)
    crops = crop_annotations(annot, sample / "images", tmp_path / "crops", size=(md.spec.height, md.spec.width))
    options = RecordsOptions(
        split=0.0,
        val=0,
        size=(md.spec.height, md.spec.width),
        keep_aspect=md.spec.keep_aspect,
        charset_file=base / md.spec.charset_file,
        max_length=md.spec.max_sequence_length,
    )
    records = write_crop_records(crops.manifest.parent, tmp_path / "records", options).out
    # A strong prior, so that the format search changes readings (checked below)
    formats = Formats({"LLNNNLL": 5, "LLLNNN": 3, "NNNLLLN": 2}, unseen=0.01, weight=3.0)
    got = evaluate(base, records, batch_size=24, formats=formats)  # 64 plates: 24 + 24 + 16
    assert got.backend == "litert" and got.num_examples == 64 and got.formats == "given"
    assert got.choice.describe() == f"latest = step {got.step}, chosen on no split"
    spec = DatasetSpec.read(records)
    with Evaluator(records, spec, md.charset, md.config, "test", 24, True, formats) as evaluator:
        expected = evaluator.evaluate(got.checkpoint)
    assert [(e.index, e.truth, e.prediction) for e in got.examples] == [
        (e.index, e.truth, e.prediction) for e in expected.examples
    ]
    assert [e.confidence for e in got.examples] == pytest.approx([e.confidence for e in expected.examples], abs=1e-4)
    mine, theirs = got.metrics(), expected.metrics()
    assert mine.pop("mean_confidence") == pytest.approx(theirs.pop("mean_confidence"), abs=1e-4)
    assert mine == theirs
    assert [(e.index, e.o_vs_0_only) for e in got.worst_errors(64)] == [
        (e.index, e.o_vs_0_only) for e in expected.worst_errors(64)
    ]
    got.write_errors_csv(tmp_path / "got.csv")
    expected.write_errors_csv(tmp_path / "expected.csv")

    def rows_without_confidence(path):
        return [{k: v for k, v in row.items() if k != "confidence"} for row in csv.DictReader(open(path))]

    assert rows_without_confidence(tmp_path / "got.csv") == rows_without_confidence(tmp_path / "expected.csv")
    assert 0 < len(got.errors) < 64  # right and wrong readings both compared
    off = evaluate(base, records, batch_size=24, formats="off")
    assert off.formats is None and [e.prediction for e in off.examples] != [e.prediction for e in got.examples]


@pytest.mark.slow
def test_with_a_warm_cache_eval_imports_no_tensorflow(tmp_path):
    """`plateocr eval` in fresh processes: the first converts the checkpoint for LiteRT (TensorFlow
    imported), the next reads the records and the model without TensorFlow; the same figures
    as eval on the tensorflow backend."""
    import os
    import subprocess
    import sys
    import textwrap

    from conftest import REPO_ROOT
    from tiny_model import random_model_dir

    from plateocr.charset import Charset

    charset = Charset.from_texts(TEXTS[:5])
    write_records(tmp_path / "records", {"test": TEXTS[:5]}, charset=charset)
    model = random_model_dir(tmp_path / "model", charset=charset).path
    code = f"""
        import sys
        sys.argv = ["plateocr", "eval", "--model-dir", {str(model)!r}, "--data", {str(tmp_path / "records")!r}, "--json"]
        from plateocr.cli import main
        try:
            main()
        except SystemExit as e:
            assert not e.code, e.code
        print("TENSORFLOW", "tensorflow" in sys.modules)
        """
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PLATEOCR_BACKEND": ""}

    def run() -> tuple[dict, bool]:
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, cwd=REPO_ROOT
        )
        printed, _, imported = out.stdout.rpartition("TENSORFLOW ")
        assert out.returncode == 0 and imported, out.stderr[-2000:]
        return json.loads(printed), imported.strip() == "True"

    first, first_imported = run()
    warm, warm_imported = run()
    assert first_imported and not warm_imported  # the first built the cache; the second needed no TensorFlow
    assert warm == first and warm["examples"] == 5
    on_tensorflow = evaluate(model, tmp_path / "records", backend="tensorflow").report()
    assert on_tensorflow.pop("mean_confidence") == pytest.approx(warm.pop("mean_confidence"), abs=1e-4)
    # `eval --json` says which backend read (LiteRT's conversion, then its stored model)
    assert (warm.pop("backend"), warm.pop("backend_note")) == ("litert", None)
    assert (on_tensorflow.pop("backend"), on_tensorflow.pop("backend_note")) == ("tensorflow", None)
    assert on_tensorflow == warm


def test_records_with_another_number_of_views_are_a_clear_error(tmp_path):
    """Crops of another size or max length are fitted and scored, but records of four views side
    by side (FSNS's own) are not squeezed into a one-view model's input."""
    from tiny_model import random_model_dir

    from plateocr.charset import Charset

    charset = Charset.from_texts(TEXTS[:5])
    spec, _ = write_records(tmp_path / "records", {"test": TEXTS[:5]}, charset=charset)
    model = random_model_dir(tmp_path / "model", charset=charset).path
    spec.num_of_views = 4
    spec.write(tmp_path / "records" / "dataset.json")
    with pytest.raises(PlateOCRError, match=r"records: 4 view\(s\) per image, but .*model reads 1; "):
        evaluate(model, tmp_path / "records", tta=False)
