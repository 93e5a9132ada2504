"""The exported SavedModel and TFLite model read plates as `predict` does, without plateocr code."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_crops
from tiny_model import random_model_dir
from typer.testing import CliRunner

from plateocr.errors import OutputExistsError, PlateOCRError

SIZE = (32, 96)
TEXTS = ["AB12", "CD345", "EF6", "K9", "XY77"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A random-weight model with the formats of TEXTS (as `train` writes them), exported with
    --tflite (and the formats: --formats auto), and crops at the model's size."""
    from plateocr.formats import FORMATS_FILE, Formats
    from plateocr.inference.export import export_model

    root = tmp_path_factory.mktemp("export")
    model = random_model_dir(root / "model", TEXTS, size=SIZE, seed=3).path
    Formats.learn(TEXTS).write(model / FORMATS_FILE)
    make_crops(root / "crops", TEXTS, size=SIZE)
    result = export_model(model, tflite=True)
    return root, model, result


@pytest.fixture(scope="module")
def exported_once(exported):
    """The same model exported to read each image once, greedily (--no-tta --formats off)."""
    from plateocr.inference.export import export_model

    root, model, _ = exported
    return export_model(model, root / "export-once", tta=False, formats="off")


def _saved_model_outputs(path, signature, **inputs):
    import tensorflow as tf  # plain TensorFlow: what a serving user has

    loaded = tf.saved_model.load(str(path))
    out = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in out.items()}


def _assert_outputs_match(out, expected, rel=1e-4):
    assert [t.decode("utf-8") for t in out["text"]] == [r.text for r in expected]
    assert out["confidence"] == pytest.approx([r.confidence for r in expected], rel=rel)
    for r, ids, probs in zip(expected, out["char_ids"], out["char_probabilities"]):
        assert probs[: len(r.text)] == pytest.approx(r.char_confidences, rel=rel)
        assert ids.shape == (6,)
    assert out["attention_masks"].shape[:2] == (len(expected), 6)


@pytest.mark.slow
def test_saved_model_signatures_agree_with_predict(exported, exported_once):
    from plateocr import PlateReader
    from plateocr.imaging import read_rgb

    root, model, result = exported
    assert result.out == model / "export" and (result.out / "saved_model.pb").is_file()
    crops = sorted((root / "crops").glob("*.png"))
    images = np.stack([read_rgb(p) for p in crops])
    with PlateReader(model) as voting, PlateReader(model, tta=False, formats="off") as once:
        expected, expected_once = voting.read_batch(crops), once.read_batch(crops)
    with PlateReader(model, formats="off") as greedy:
        expected_greedy = greedy.read_batch(crops)
    assert len({round(r.confidence, 6) for r in expected}) == len(crops)  # distinct, so the check bites
    # random weights: the five views disagree, so the vote differs from a single reading
    assert [r.confidence for r in expected] != pytest.approx([r.confidence for r in expected_once], rel=1e-4)
    # and the model folder's formats change what the views read
    assert [r.text for r in expected] != [r.text for r in expected_greedy]

    # the default export votes over the five views' format-aware readings in its graph, as predict does
    for out in (
        _saved_model_outputs(result.out, "serving_default", image_bytes=[p.read_bytes() for p in crops]),
        _saved_model_outputs(result.out, "images", images=images),
    ):
        _assert_outputs_match(out, expected)
    assert set(result.formats) == {"LLNN", "LLNNN", "LLN", "LN"} and (result.out / "formats.json").is_file()
    # --no-tta --formats off reads each image once, greedily
    info = json.loads((exported_once.out / "export.json").read_text())
    assert exported_once.views == 1 and info["views"] == 1 and info["formats"] is None and not exported_once.formats
    _assert_outputs_match(_saved_model_outputs(exported_once.out, "images", images=images), expected_once)


@pytest.mark.slow
def test_bytes_of_other_sizes_are_fitted_in_the_graph(exported):
    import cv2

    root, model, result = exported
    img = cv2.imread(str(sorted((root / "crops").glob("*.png"))[0]))
    bigger = cv2.resize(img, (SIZE[1] * 2, SIZE[0] * 2), interpolation=cv2.INTER_NEAREST)
    out = _saved_model_outputs(
        result.out,
        "serving_default",
        image_bytes=[cv2.imencode(".png", img)[1].tobytes(), cv2.imencode(".jpg", bigger)[1].tobytes()],
    )
    assert out["char_ids"].shape == (2, 6)  # a JPEG twice the size goes through the same graph


@pytest.mark.slow
def test_tflite_reads_the_same_texts(exported):
    from plateocr import PlateReader
    from plateocr.charset import Charset
    from plateocr.imaging import read_rgb
    from plateocr.inference.export import run_tflite

    root, model, result = exported
    assert result.tflite.is_file() and result.tflite_bytes > 0
    crops = sorted((root / "crops").glob("*.png"))
    out = run_tflite(result.tflite, np.stack([read_rgb(p) for p in crops]))
    charset = Charset.read(result.out / "charset.txt")
    with PlateReader(model) as reader:  # it votes over the views' format-aware readings, as predict does
        expected = reader.read_batch(crops)
    assert [charset.decode(ids) for ids in out["char_ids"]] == [r.text for r in expected]
    assert out["confidence"] == pytest.approx([r.confidence for r in expected], rel=1e-3)
    info = json.loads((result.out / "export.json").read_text())
    assert info["input_size"] == list(SIZE) and info["tflite"] == "plateocr.tflite" and info["views"] == 5
    assert info["formats"] == "formats.json"


@pytest.mark.slow
def test_cli_refuses_to_overwrite_and_replaces_with_force(exported, tmp_path):
    from plateocr.cli import app
    from plateocr.inference.export import export_model

    root, model, result = exported
    with pytest.raises(OutputExistsError, match="--force"):
        export_model(model)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("user data")
    with pytest.raises(PlateOCRError, match="not an earlier export"):
        export_model(model, tmp_path / "mine", force=True)
    assert (tmp_path / "mine" / "keep.txt").read_text() == "user data"

    runner = CliRunner()
    res = runner.invoke(app, ["export", "--model-dir", str(model), "--out", str(tmp_path / "exp")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "exp" / "saved_model.pb").is_file() and "serving_default" in res.output
    assert "each image as 5 views, voted" in res.output and "preferred in the graph" in res.output
    res = runner.invoke(app, ["export", "--model-dir", str(model), "--out", str(tmp_path / "exp")])
    assert res.exit_code != 0 and "--force" in str(res.exception) + res.output
    stamp = (tmp_path / "exp" / "saved_model.pb").stat().st_mtime_ns
    res = runner.invoke(
        app,
        [
            "export",
            "--model-dir",
            str(model),
            "--out",
            str(tmp_path / "exp"),
            "--force",
            "--no-tta",
            "--formats",
            "off",
        ],
    )
    assert res.exit_code == 0, res.output
    info = json.loads((tmp_path / "exp" / "export.json").read_text())
    assert "each image once" in res.output and info["views"] == 1 and info["formats"] is None
    assert not (tmp_path / "exp" / "formats.json").exists()
    assert (tmp_path / "exp" / "saved_model.pb").stat().st_mtime_ns != stamp
    assert not list(tmp_path.glob(".exp.*"))  # no temporary folder left behind


def test_an_out_that_is_a_file_or_an_unrelated_folder_is_named_as_such(tmp_path):
    from plateocr.inference.export import export_model

    model = random_model_dir(tmp_path / "model", TEXTS, size=SIZE).path
    (tmp_path / "afile").write_text("x")
    with pytest.raises(PlateOCRError, match="afile: exists and is not a folder"):
        export_model(model, tmp_path / "afile")
    with pytest.raises(PlateOCRError, match="afile is a file, not a folder"):
        export_model(model, tmp_path / "afile" / "sub")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("user data")
    with pytest.raises(PlateOCRError, match="mine: holds other files, not an earlier export"):
        export_model(model, tmp_path / "mine")  # not "an export is already there"
    assert (tmp_path / "mine" / "keep.txt").read_text() == "user data"


@pytest.mark.slow
def test_without_a_model_dir_the_bundled_base_model_is_exported_here(tmp_path, monkeypatch):
    """As eval and predict do: no model/ here, the bundled base model; its export goes to export/
    in the working directory, never into the installed package."""
    import plateocr.base_model
    from plateocr.cli import app

    bundled = random_model_dir(tmp_path / "package" / "base_model", TEXTS, size=SIZE).path  # stands in for it
    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", bundled)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    res = CliRunner().invoke(app, ["export", "--no-tta", "--formats", "off"])
    assert res.exit_code == 0, res.output
    assert "exporting the bundled base model" in res.output
    assert (tmp_path / "work" / "export" / "saved_model.pb").is_file() and not (bundled / "export").exists()


def test_a_conversion_error_without_a_message_is_one_line(monkeypatch):
    """The converter's exception, however it is worded (here: not at all), is one PlateOCRError
    line, for export --tflite and the reader's LiteRT graph alike."""
    from plateocr.inference.tflite_conversion import tflite_flatbuffer
    from plateocr.model.compat import tf1

    class Silent(Exception):
        pass

    def from_session(*args):
        raise Silent()

    monkeypatch.setattr(tf1.lite.TFLiteConverter, "from_session", from_session)
    for flex in (True, False):
        with pytest.raises(PlateOCRError, match=r"^TensorFlow Lite conversion failed: Silent$"):
            tflite_flatbuffer(None, [], [], flex=flex)
