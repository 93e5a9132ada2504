"""Format-aware reading: formats learned from labels (formats.json), the search over the decoder's
per-step distributions (NumPy and graph ops), and the readers, eval and train that use them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_crops, write_csv
from tiny_model import random_model_dir
from typer.testing import CliRunner

from plateocr.charset import Charset
from plateocr.errors import PlateOCRError
from plateocr.formats import FORMATS_FILE, Formats, format_of, resolve_formats
from plateocr.inference.format_search import build_tables, decode_outputs, search

CHARSET = Charset.from_texts(["AB-"])  # <nul>, 0-9, A-Z, then '-'
STEPS = 8


def distributions(steps: list[dict[str, float]]) -> np.ndarray:
    """[1, STEPS, C] per-step distributions: each step's listed probabilities (None: the end
    of the text), the rest spread evenly; steps after the list end the text confidently."""
    steps = steps + [{None: 0.99}] * (STEPS - len(steps))
    probs = np.zeros((1, STEPS, CHARSET.num_classes), np.float32)
    for i, step in enumerate(steps):
        for char, p in step.items():
            probs[0, i, CHARSET.null_code if char is None else CHARSET.id_of(char)] = p
        rest = probs[0, i] == 0
        probs[0, i, rest] = (1 - probs[0, i].sum()) / rest.sum()
    return probs


def sure(text: str, p: float = 0.97) -> list[dict]:
    return [{c: p} for c in text] + [{None: p}]


def read(probs: np.ndarray, formats: Formats | None) -> tuple[str, float]:
    """What the reader keeps: the greedy reading, or the format-aware one."""
    tables = build_tables(formats, CHARSET, STEPS)
    out = {"chars": probs.argmax(-1), "probs": probs}
    out["scores"] = np.take_along_axis(probs, out["chars"][..., None], -1)[..., 0]
    n = list(out["chars"][0]).index(CHARSET.null_code)
    out["confidence"] = out["scores"][:, : n + 1].prod(axis=1)
    (r,) = decode_outputs(CHARSET, out, tables)
    return r.text, r.confidence


LLLNNN = Formats.learn(["ABC123", "XYZ789", "KLM456", "ABC1234"])  # LLL NNN x3, LLL NNNN x1


def test_formats_are_learned_from_labels_and_read_back_as_written(tmp_path):
    assert format_of("AB123CD") == "LLNNNLL" and format_of("AB-12") == "LL?NN"
    f = Formats.learn(["AB123CD", "XY999ZZ", "ABC123", "", "AB-12"], source="labels")
    assert f.counts == {"LLNNNLL": 2, "LLLNNN": 1, "LL?NN": 1} and f.learned_from["labels"] == 4
    assert f.prior("CD456EF") == pytest.approx(0.95 * 2 / 4 + 0.05)
    assert f.prior("AB1") == pytest.approx(0.05)  # a format never seen keeps the unseen mass
    assert f.prior("AB_12") == pytest.approx(0.95 / 4 + 0.05)  # '?' takes any character
    f.write(tmp_path / FORMATS_FILE)
    doc = json.loads((tmp_path / FORMATS_FILE).read_text())
    assert list(doc["formats"]) == ["LLNNNLL", "LL?NN", "LLLNNN"]  # most common first
    assert doc["unseen"] == 0.05 and doc["weight"] == 1.0
    assert Formats.read(tmp_path / FORMATS_FILE).counts == f.counts
    # edited by hand: spaces inside a format are ignored, defaults filled in
    (tmp_path / "mine.json").write_text('{"formats": {"LL NNN LL": 3, "lll nnn": 1}, "unseen": 0.2}')
    mine = Formats.read(tmp_path / "mine.json")
    assert mine.counts == {"LLNNNLL": 3, "LLLNNN": 1} and mine.unseen == 0.2 and mine.weight == 1.0
    for bad, why in [
        ('{"formats": {"LLX": 1}}', "not made of L, N and ?"),
        ('{"formats": {"LLN": 0}}', "positive number"),
        ('{"formats": {"LLN": 1}, "unseen": 0}', "unseen"),
        ('{"formats": {"LLN": 1, "LL N": 2}}', "listed twice"),
        ('["LLN"]', "not a formats file"),
        ("{", "cannot read formats"),
    ]:
        (tmp_path / "bad.json").write_text(bad)
        with pytest.raises(PlateOCRError, match=why):
            Formats.read(tmp_path / "bad.json")
    # from a labels CSV (a benchmark's training part), and what --formats names
    csv = write_csv(tmp_path / "labels.csv", [("a.png", "AB123CD"), ("b.png", "ABC123")], header=("files", "text"))
    assert Formats.from_labels_csv(csv).counts == {"LLNNNLL": 1, "LLLNNN": 1}
    assert resolve_formats("auto", tmp_path).counts == f.counts  # the model folder's formats.json
    assert resolve_formats("auto", tmp_path / "nothing") is None and resolve_formats("off", tmp_path) is None
    assert resolve_formats(str(tmp_path / "mine.json"), None).counts == mine.counts
    with pytest.raises(PlateOCRError, match="not found"):
        resolve_formats(str(tmp_path / "missing.json"), tmp_path)


def test_lookalikes_turn_the_way_the_learned_format_says():
    # I is slightly more likely than 1 where LLL NNN wants a digit, 0 than O where it wants a letter
    probs = distributions(sure("AB")[:2] + [{"0": 0.5, "O": 0.45}, {"1": 0.4, "I": 0.45}] + sure("23"))
    assert read(probs, None)[0] == "AB0I23"  # greedy
    text, confidence = read(probs, LLLNNN)
    assert text == "ABO123"
    assert confidence == pytest.approx(0.97**5 * 0.45 * 0.4, rel=1e-5)  # the chosen characters' product
    # a digit read as O, a letter read as 8: the other way round
    probs = distributions(sure("XY")[:2] + [{"8": 0.48, "B": 0.42}, {"O": 0.5, "0": 0.44}] + sure("57"))
    assert read(probs, None)[0] == "XY8O57" and read(probs, LLLNNN)[0] == "XYB057"
    # a reading that already follows a learned format is left as it is
    probs = distributions(sure("KLM")[:3] + [{"1": 0.5, "I": 0.45}] + sure("23"))
    assert read(probs, LLLNNN)[0] == read(probs, None)[0] == "KLM123"
    # the end of the text is part of the search: a doubtful seventh digit goes if LLL NNN prefers it
    probs = distributions(sure("ABC123")[:6] + [{"4": 0.45, None: 0.4}])
    assert read(probs, None)[0] == "ABC1234" and read(probs, LLLNNN)[0] == "ABC123"
    # weight 0: no prior at all
    assert read(probs, Formats(LLLNNN.counts, weight=0.0))[0] == "ABC1234"


def test_a_confident_reading_of_an_unseen_format_stays():
    # LL NN LL was never seen, but every character is clear: it is not bent into LLL NNN
    probs = distributions(sure("AB12CD", 0.9))
    assert read(probs, LLLNNN)[0] == "AB12CD"
    # the same unseen format with a real doubt where LLL NNN would go: the prior decides
    probs = distributions(sure("AB")[:2] + [{"1": 0.6, "I": 0.35}] + sure("234"))
    assert read(probs, None)[0] == "AB1234" and read(probs, LLLNNN)[0] == "ABI234"
    # a larger unseen mass trusts the model more
    assert read(probs, Formats(LLLNNN.counts, unseen=0.9))[0] == "AB1234"
    # formats the model cannot read (longer than its steps, no such characters) are left out
    tables = build_tables(Formats({"LLLNNN": 3, "N" * 9: 1}), CHARSET, STEPS)
    assert tables.formats == ("LLLNNN",) and tables.dropped == ("N" * 9,)
    assert build_tables(Formats({"N" * 9: 1}), CHARSET, STEPS) is None  # nothing left: greedy


def test_search_in_graph_is_search():
    from plateocr.model.compat import tf
    from plateocr.inference.format_search import search_in_graph

    rng = np.random.default_rng(0)
    formats = Formats({"LLLNNN": 5, "LLNNNLL": 3, "NL?NN": 1, "LLNNNNLL": 2})  # the last fills all steps
    tables = build_tables(formats, CHARSET, STEPS)
    # random distributions: some greedy readings win, many are changed by the formats
    probs = rng.dirichlet(np.full(CHARSET.num_classes, 0.3), size=(200, STEPS)).astype(np.float32)
    probs[:, :, CHARSET.null_code] *= np.linspace(0, 3, STEPS)[None, :]  # texts of several lengths
    probs /= probs.sum(-1, keepdims=True)
    chars = probs.argmax(-1).astype(np.int32)
    ids, scores, confidence = search(tables, probs, chars)
    got = [t.numpy() for t in search_in_graph(tables, tf.constant(probs), tf.constant(chars))]
    assert np.array_equal(got[0], ids)
    assert got[1] == pytest.approx(scores, rel=1e-6) and got[2] == pytest.approx(confidence, rel=1e-5)
    texts = [CHARSET.decode(i) for i in ids]
    changed = sum(t != CHARSET.decode(g) for t, g in zip(texts, chars))
    assert 20 < changed < 180  # both kinds are in the check
    assert {len(t) for t in texts} >= {5, 6, 7, 8}


@pytest.fixture(scope="module")
def model_and_crops(tmp_path_factory):
    """A random-weight model with formats.json as `train` writes it, and crops to read."""
    root = tmp_path_factory.mktemp("formats")
    texts = ["AB12", "CD345", "EF6", "K9", "XY77"]
    model = random_model_dir(root / "model", texts, size=(32, 96), seed=3).path
    Formats.learn(["AB12", "CD34", "EF56", "ABC1"]).write(model / FORMATS_FILE)  # LL NN x3, LLL N
    make_crops(root / "crops", texts, size=(32, 96))
    return model, sorted((root / "crops").glob("*.png"))


def test_readers_eval_and_predict_use_the_model_folders_formats(model_and_crops, tmp_path):
    from test_data import plate_image, write_records

    from plateocr import PlateReader
    from plateocr.training.evaluate import evaluate

    model, crops = model_and_crops
    with PlateReader(model) as auto, PlateReader(model, formats="off") as off:
        assert auto.formats.counts == {"LLNN": 3, "LLLN": 1} and off.formats is None
        with_formats, without = auto.read_batch(crops), off.read_batch(crops)
    # random weights read anything; the formats make most of it LL NN or LLL N
    assert [r.text for r in with_formats] != [r.text for r in without]
    assert sum(format_of(r.text) in ("LLNN", "LLLN") for r in with_formats) > sum(
        format_of(r.text) in ("LLNN", "LLLN") for r in without
    )
    # eval reads as predict does, with and without the formats
    texts = ["AB12", "CD345", "EF6", "K9"]
    write_records(tmp_path / "records", {"test": texts}, size=(32, 96), shards=1)
    images = np.stack([plate_image(t, (32, 96), seed=i) for i, t in enumerate(texts)])
    for choice in ("auto", "off"):
        with PlateReader(model, formats=choice) as reader:
            expected = reader.run(images)
        result = evaluate(model, tmp_path / "records", batch_size=3, formats=choice)
        assert [e.prediction for e in result.examples] == [r.text for r in expected]
        assert [e.confidence for e in result.examples] == pytest.approx([r.confidence for r in expected], rel=1e-4)
        assert result.metrics()["formats"] == (str(model / FORMATS_FILE) if choice == "auto" else None)
    # the eval command takes --formats too, and says which it read with
    from plateocr.cli import app

    (tmp_path / "mine.json").write_text('{"formats": {"LLN": 1}}')
    for choice, shown in (("off", None), (str(tmp_path / "mine.json"), str(tmp_path / "mine.json"))):
        res = CliRunner().invoke(
            app, ["eval", "--model-dir", str(model), "--data", str(tmp_path / "records"), "--formats", choice, "--json"]
        )
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["formats"] == shown


def test_predict_states_formats_for_any_model(model_and_crops, tmp_path):
    """--formats FILE works with a model folder that has none (the bundled base model's case)."""
    from plateocr.cli import app

    model, crops = model_and_crops
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in model.iterdir():
        if f.is_file() and f.name != FORMATS_FILE:
            (bare / f.name).write_bytes(f.read_bytes())
    (tmp_path / "mine.json").write_text('{"formats": {"LL NN": 1}}')
    runner = CliRunner()

    def texts(*extra):
        res = runner.invoke(app, ["predict", *map(str, crops), "--model-dir", str(bare), "--format", "json", *extra])
        assert res.exit_code == 0, res.output
        return [r["text"] for r in json.loads(res.stdout)]

    plain, stated = texts(), texts("--formats", str(tmp_path / "mine.json"))
    assert plain != stated and sum(format_of(t) == "LLNN" for t in stated) > sum(format_of(t) == "LLNN" for t in plain)
    res = runner.invoke(
        app, ["predict", str(crops[0]), "--model-dir", str(bare), "--formats", str(tmp_path / "no.json")]
    )
    assert res.exit_code != 0 and "formats file not found" in str(res.exception) + res.output
    # a format longer than the model reads is ignored, and predict says so
    (tmp_path / "long.json").write_text('{"formats": {"%s": 3, "LL NN": 1}}' % ("L" * 40))
    res = runner.invoke(
        app, ["predict", str(crops[0]), "--model-dir", str(bare), "--formats", str(tmp_path / "long.json")]
    )
    assert res.exit_code == 0 and "1 format(s) this model cannot read" in res.output


@pytest.mark.parametrize(
    "doc", ['{"formats": {"LL": NaN}}', '{"formats": {"LL": 1e400}}', '{"formats": {"LL": 1}, "weight": Infinity}']
)
def test_a_formats_file_with_counts_or_weight_not_finite_is_refused(tmp_path, doc):
    (tmp_path / "f.json").write_text(doc)
    with pytest.raises(PlateOCRError, match="must be"):
        resolve_formats(str(tmp_path / "f.json"), tmp_path)


@pytest.mark.slow
def test_train_learns_the_formats_of_the_train_split_and_keeps_an_edited_file(tmp_path):
    from test_data import write_records

    from plateocr.training.loop import train

    write_records(tmp_path / "records", {"train": ["AB12", "CD34", "EFG5", "XY99"], "val": ["ZZ22"], "test": ["ZZ11"]})
    messages = []

    class Listener:
        def __getattr__(self, name):
            return lambda *a, **k: messages.append(a[0]) if name == "message" else None

    options = {"steps": 1, "batch_size": 2, "eval_every": 0, "augment": False}
    tiny = {"final_endpoint": "MaxPool_5a_3x3"}
    train(
        tmp_path / "records", tmp_path / "model", options, config_overrides=tiny, from_scratch=True, listener=Listener()
    )
    path = tmp_path / "model" / FORMATS_FILE
    assert Formats.read(path).counts == {"LLNN": 3, "LLLN": 1}  # the train split only (not ZZ22 nor ZZ11)
    assert any("2 format(s): LL NN, LLL N learned" in m for m in messages)
    path.write_text('{"formats": {"NNNN": 1}}')  # edited: resuming keeps it
    train(tmp_path / "records", tmp_path / "model", options, listener=Listener())
    assert Formats.read(path).counts == {"NNNN": 1}
