"""PlateReader's LiteRT backend: it reads as the TensorFlow backend does (texts, confidences,
character probabilities, attention; views and formats on and off), its TFLite model is stored
per checkpoint beside it and in the user cache (reused, rebuilt for new weights or a stale or
damaged file, never written with cache_graph=False nor into the bundled base model, which ships
its own with float16 weights), a failed conversion is remembered, and with a warm cache or a
model directory that carries its TFLite model reading imports no TensorFlow."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import BUNDLED_BASE_MODEL, REAL_AR_PLATES, REPO_ROOT, make_crops
from tiny_model import random_model_dir

from plateocr.errors import PlateOCRError

SIZE = (32, 96)
TEXTS = ["AB12", "CD345", "EF6", "K9"]
TOLERANCE = 1e-4  # LiteRT's XNNPACK kernels against TensorFlow's oneDNN ones: float rounding


def _use_cache(monkeypatch, folder: Path) -> Path:
    """`folder` as plateocr.user_cache's folder; its graphs/ folder."""
    from plateocr.inference import graph_cache, tflite_store

    for module in (graph_cache, tflite_store):
        monkeypatch.setattr(module, "user_cache_dir", lambda: folder)
    return folder / "graphs"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A cache folder of this test's own (the graphs/ folder of plateocr.user_cache)."""
    return _use_cache(monkeypatch, tmp_path / "cache")


@pytest.fixture
def builds(monkeypatch) -> list:
    """The checkpoints a TFLite model was built for (converted with TensorFlow), in order."""
    from plateocr.inference import litert_runner

    built, real = [], litert_runner.build_tflite

    def counting(config, checkpoint, **kwargs):
        built.append(checkpoint)
        return real(config, checkpoint, **kwargs)

    monkeypatch.setattr(litert_runner, "build_tflite", counting)
    return built


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("crops")
    make_crops(folder, TEXTS, size=SIZE)
    return sorted(folder.glob("*.png"))


def _assert_same(got, expected, attention: bool = False):
    assert [r.text for r in got] == [r.text for r in expected]
    for a, b in zip(got, expected):
        assert a.confidence == pytest.approx(b.confidence, abs=TOLERANCE)
        assert a.char_confidences == pytest.approx(b.char_confidences, abs=TOLERANCE)
        if attention:
            assert np.allclose(a.attention, b.attention, atol=TOLERANCE)


def _litert_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("litert-*.tflite"))


def test_the_tflite_model_is_built_once_per_checkpoint_and_rebuilt_for_new_weights(tmp_path, cache, builds, crops):
    from plateocr import PlateReader
    from plateocr.inference.tflite_store import beside_path, read_stored, tflite_cache_path, tflite_key

    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=1)
    with PlateReader(md.path) as first:
        assert first.backend == "litert" and first.backend_note is None
        readings = first.read_batch(crops, batch_size=3)
        checkpoint = first.checkpoint
    path, beside = tflite_cache_path(md.config, checkpoint), beside_path(checkpoint)
    assert _litert_files(cache) == [path] and len(builds) == 1
    # stored twice, the same model with its key: beside the checkpoint and in the user cache
    assert beside == md.path / "ckpt-1-litert.tflite" and beside.read_bytes() == path.read_bytes()
    assert read_stored(beside)[1] == tflite_key(md.config, checkpoint)
    inodes = path.stat().st_ino, beside.stat().st_ino
    # Another reader of the same checkpoint, with other reading options too: the same file, no build.
    with PlateReader(md.path) as second, PlateReader(md.path, tta=False, formats="off") as other:
        _assert_same(second.read_batch(crops, batch_size=2), readings)
        other.read_batch(crops)
    assert len(builds) == 1 and _litert_files(cache) == [path] and (path.stat().st_ino, beside.stat().st_ino) == inodes

    # Retrained in place: the same checkpoint path, other weights -> another key, both files new.
    retrained = random_model_dir(tmp_path / "retrained", TEXTS, size=SIZE, seed=2)
    for f in Path(retrained.checkpoint_prefix).parent.glob("ckpt-1.*"):
        shutil.copyfile(f, md.path / f.name)
    with PlateReader(md.path) as third:
        again = third.read_batch(crops)
    assert len(builds) == 2 and builds[1] == checkpoint
    assert tflite_cache_path(md.config, checkpoint) != path and len(_litert_files(cache)) == 2
    assert read_stored(beside)[1] == tflite_key(md.config, checkpoint) != read_stored(path)[1]
    assert [r.confidence for r in again] != pytest.approx([r.confidence for r in readings], abs=TOLERANCE)

    # cache_graph=False builds in memory: nothing read from the stored models, nothing written.
    stored = [*cache.iterdir(), beside]
    before = {p: p.stat().st_mtime_ns for p in stored}
    with PlateReader(md.path, cache_graph=False) as uncached:
        _assert_same(uncached.read_batch(crops), again)
    assert len(builds) == 3 and {p: p.stat().st_mtime_ns for p in stored} == before
    assert sorted(cache.iterdir()) == sorted(stored[:-1])


@pytest.mark.parametrize("where", ["beside the checkpoint", "in the user cache"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "flipped bytes in the weights", "empty", "another key"])
def test_a_damaged_or_stale_stored_model_is_rebuilt(tmp_path, cache, builds, crops, damage, where):
    from plateocr import PlateReader
    from plateocr.inference.tflite_store import beside_path, decode, encode, tflite_cache_path

    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=3)
    with PlateReader(md.path) as reader:
        expected = reader.read_batch(crops)
    beside, cached = beside_path(reader.checkpoint), tflite_cache_path(md.config, reader.checkpoint)
    good = beside.read_bytes()
    assert cached.read_bytes() == good
    damaged = {
        "truncated": good[: len(good) // 2],
        "garbage": b"not a model" * 100,
        "flipped bytes in the weights": good[:10000] + bytes(b ^ 0xFF for b in good[10000:10100]) + good[10100:],
        "empty": b"",
        "another key": encode(decode(good)[0], "0" * 20),  # a stale file: its checksum holds
    }[damage]
    if where == "beside the checkpoint":
        cached.unlink()  # else the user cache's copy is read, and no build is needed
        beside.write_bytes(damaged)
    else:
        beside.unlink()
        cached.write_bytes(damaged)
    with PlateReader(md.path) as reader:
        _assert_same(reader.read_batch(crops), expected)
    assert len(builds) == 2 and beside.read_bytes() == good and cached.read_bytes() == good


def test_a_model_found_in_the_user_cache_is_stored_beside_its_checkpoint(tmp_path, cache, builds, crops):
    """A model directory read before models were stored beside checkpoints (or copied there
    without them) gets its file from the user cache, without a build."""
    from plateocr import PlateReader
    from plateocr.inference.tflite_store import beside_path

    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=9)
    with PlateReader(md.path) as reader:
        reader.read(crops[0])
    beside = beside_path(reader.checkpoint)
    good = beside.read_bytes()
    beside.unlink()
    with PlateReader(md.path) as reader:
        reader.read(crops[0])
    assert len(builds) == 1 and beside.read_bytes() == good


def test_a_model_directory_carries_its_tflite_model(tmp_path, monkeypatch, builds, crops):
    """Copied elsewhere, with an empty user cache: read without converting (no TensorFlow needed);
    a file left beside a checkpoint that training rotated away is removed with the next write."""
    from plateocr import PlateReader

    _use_cache(monkeypatch, tmp_path / "cache-here")
    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=10)
    with PlateReader(md.path) as reader:
        expected = reader.read_batch(crops)
    shutil.copytree(md.path, tmp_path / "elsewhere")
    there = _use_cache(monkeypatch, tmp_path / "cache-there").parent
    with PlateReader(tmp_path / "elsewhere") as reader:
        _assert_same(reader.read_batch(crops), expected)
    assert len(builds) == 1 and not there.exists()  # nothing to build, nothing cached

    orphan = md.path / "ckpt-7-litert.tflite"  # its checkpoint gone (training keeps the last few)
    orphan.write_bytes(b"left over")
    other = random_model_dir(tmp_path / "other", TEXTS, size=SIZE, seed=11)
    for f in Path(other.checkpoint_prefix).parent.glob("ckpt-1.*"):
        shutil.copyfile(f, md.path / f.name)
    with PlateReader(md.path) as reader:
        reader.read(crops[0])
    assert len(builds) == 2 and not orphan.exists() and (md.path / "ckpt-1-litert.tflite").is_file()


def test_the_bundled_base_model_folder_is_never_written(tmp_path, monkeypatch, cache, builds, crops):
    """Read-only where installed: a stale file there is passed over (the user cache serves),
    never replaced; nothing is written into it."""
    import plateocr.base_model
    from plateocr import PlateReader
    from plateocr.inference.tflite_store import beside_path, decode, encode

    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=12)
    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", md.path)
    checkpoint = md.resolve_checkpoint()
    before = sorted(md.path.rglob("*"))
    with PlateReader(md.path) as reader:
        expected = reader.read_batch(crops)
    assert sorted(md.path.rglob("*")) == before and len(_litert_files(cache)) == 1
    stale = encode(decode(_litert_files(cache)[0].read_bytes())[0], "0" * 20)
    beside_path(checkpoint).write_bytes(stale)
    with PlateReader(md.path) as reader:
        _assert_same(reader.read_batch(crops), expected)
    assert len(builds) == 1 and beside_path(checkpoint).read_bytes() == stale


def test_a_failed_conversion_is_remembered(tmp_path, monkeypatch, cache, crops):
    """`auto` reads with TensorFlow at once on the next start, with the same note, until another
    TensorFlow or LiteRT is installed; a model that converts is not held back by it."""
    from plateocr import PlateReader
    from plateocr.inference import litert_runner, tflite_store

    tried = []

    def broken(config, checkpoint, **kwargs):
        tried.append(checkpoint)
        raise litert_runner.LiteRTUnavailable("no converter today")

    monkeypatch.setattr(litert_runner, "build_tflite", broken)
    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=13)
    notes = []
    for _ in range(2):
        with PlateReader(md.path) as reader:
            assert reader.backend == "tensorflow"
            notes.append(reader.backend_note)
    assert len(tried) == 1 and notes == ["no converter today: reading with TensorFlow"] * 2
    assert len(list(cache.glob("litert-*.failed"))) == 1 and not _litert_files(cache)
    with pytest.raises(PlateOCRError, match="no converter today"):
        PlateReader(md.path, backend="litert")
    assert len(tried) == 1

    versions = tflite_store._versions()
    monkeypatch.setattr(tflite_store, "_versions", lambda: {**versions, "ai-edge-litert": "9.9"})
    with PlateReader(md.path) as reader:  # another LiteRT: tried again
        assert reader.backend == "tensorflow"
    assert len(tried) == 2


def test_the_first_use_opens_one_interpreter(tmp_path, monkeypatch, cache, crops):
    from plateocr import PlateReader
    from plateocr.inference import litert_runner

    opened = []

    class Counting(litert_runner.LiteRTRunner):
        def __init__(self, *args, **kwargs):
            opened.append(args[1:])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(litert_runner, "LiteRTRunner", Counting)
    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=14)
    with PlateReader(md.path, threads=1) as reader:
        reader.read(crops[0])
    # the one that checked the conversion reads, on the reader's threads
    assert [args[:2] for args in opened] == [(1, True)]


@pytest.fixture
def unenterable(tmp_path, monkeypatch) -> Path:
    """A user cache directory that cannot be entered: chmod 0, and where this runs as root (who
    may enter anything) every file access below it raising PermissionError, as it would."""
    import io

    folder = tmp_path / "locked"
    _use_cache(monkeypatch, folder).mkdir(parents=True)
    if os.geteuid() != 0:
        folder.chmod(0)
        yield folder
        folder.chmod(0o755)
        return

    def denied(real):
        def call(path, *args, **kwargs):
            if isinstance(path, (str, os.PathLike)) and Path(os.fspath(path)).is_relative_to(folder / "graphs"):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real(path, *args, **kwargs)

        return call

    for module, name in ((os, "stat"), (os, "open"), (os, "mkdir"), (os, "scandir"), (os, "utime"), (io, "open")):
        monkeypatch.setattr(module, name, denied(getattr(module, name)))
    yield folder


@pytest.mark.parametrize("backend", ["litert", "tensorflow"])
def test_an_unenterable_cache_directory_only_loses_the_speed_up(tmp_path, unenterable, crops, backend):
    from plateocr import PlateReader

    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=15)
    with PlateReader(md.path, cache_graph=False, backend=backend) as reader:
        expected = reader.read_batch(crops)
    with PlateReader(md.path, backend=backend) as reader:
        _assert_same(reader.read_batch(crops), expected)
        assert reader.backend == backend and reader.backend_note is None


def test_backend_choice_and_fallback(tmp_path, monkeypatch, crops):
    from plateocr import PlateReader
    from plateocr.inference import litert_runner

    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=4)
    with pytest.raises(PlateOCRError, match="backend 'onnx': expected one of auto, litert, tensorflow"):
        PlateReader(md.path, backend="onnx")
    monkeypatch.setenv("PLATEOCR_BACKEND", "bogus")
    with pytest.raises(PlateOCRError, match="PLATEOCR_BACKEND 'bogus'"):
        PlateReader(md.path)
    monkeypatch.setenv("PLATEOCR_BACKEND", "tensorflow")
    with PlateReader(md.path) as by_env, PlateReader(md.path, backend="litert") as given:
        assert by_env.backend == "tensorflow" and given.backend == "litert"  # the argument wins
        _assert_same(given.read_batch(crops), by_env.read_batch(crops))
    monkeypatch.delenv("PLATEOCR_BACKEND")
    # Without ai-edge-litert: "auto" reads with TensorFlow and says why; "litert" is an error.
    monkeypatch.setattr(litert_runner, "available", lambda: False)
    with PlateReader(md.path) as fallback:
        assert fallback.backend == "tensorflow" and "ai-edge-litert is not installed" in fallback.backend_note
    with pytest.raises(PlateOCRError, match="ai-edge-litert is not installed"):
        PlateReader(md.path, backend="litert")


def test_a_damaged_checkpoint_is_one_error_on_either_backend(tmp_path):
    from plateocr import PlateReader

    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=5)
    data = next(md.path.glob("ckpt-1.data-*"))
    data.write_bytes(data.read_bytes()[:1000])
    for backend in ("litert", "tensorflow"):
        with pytest.raises(PlateOCRError, match="cannot restore the model from this checkpoint"):
            PlateReader(md.path, backend=backend)


def _python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        cwd=REPO_ROOT,
    )


@pytest.mark.slow
def test_with_a_warm_cache_reading_imports_no_tensorflow(tmp_path, crops):
    """PlateReader and `plateocr predict` in fresh processes: the first builds the cache (and
    imports TensorFlow); then neither imports it, nor do `predict --help` and `predict` alone,
    nor `predict` on a copy of the model directory with an empty user cache."""
    md = random_model_dir(tmp_path / "model", TEXTS, size=SIZE, seed=6)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PLATEOCR_BACKEND": ""}
    read = f"""
        import sys
        from plateocr.inference.reader import PlateReader
        assert "tensorflow" not in sys.modules
        with PlateReader({str(md.path)!r}) as reader:
            print(reader.backend, reader.read({str(crops[0])!r}).text)
        print("tensorflow" in sys.modules)
        """
    first = _python(read, env)
    assert first.returncode == 0 and first.stdout.split()[0] == "litert", first.stderr[-2000:]
    assert first.stdout.split()[-1] == "True"  # built: TensorFlow converted it
    assert "XNNPACK" not in first.stderr and "grappler" not in first.stderr, first.stderr  # native logs off
    warm = _python(read, env)
    assert warm.returncode == 0 and warm.stdout.split() == [*first.stdout.split()[:-1], "False"], warm.stderr
    assert warm.stderr == ""

    def predict(*args: str) -> tuple[str, set[str]]:
        out = _python(
            f"""
            import sys
            sys.argv = ["plateocr", "predict", *{list(args)!r}]
            from plateocr.cli import main
            try:
                main()
            except SystemExit:
                pass
            print("MODULES", " ".join(sorted(sys.modules)))
            """,
            env,
        )
        printed, _, modules = out.stdout.rpartition("MODULES ")
        assert modules, out.stderr[-2000:]
        return printed + out.stderr, set(modules.split())

    printed, modules = predict(str(crops[0]), "--model-dir", str(md.path), "--format", "csv")
    assert f"{crops[0]},{warm.stdout.split()[1]}," in printed  # the text PlateReader read
    assert "tensorflow" not in modules and "ai_edge_litert.interpreter" in modules
    # the model directory copied to another machine (another, empty user cache): warm too
    shutil.copytree(md.path, tmp_path / "copied")
    env["XDG_CACHE_HOME"] = str(tmp_path / "another-cache")
    printed, modules = predict(str(crops[0]), "--model-dir", str(tmp_path / "copied"), "--format", "csv")
    assert f"{crops[0]},{warm.stdout.split()[1]}," in printed and "tensorflow" not in modules
    assert not (tmp_path / "another-cache").exists()
    for args in ((), ("--help",)):
        printed, modules = predict(*args)
        assert not {m for m in modules if m.split(".")[0] in ("tensorflow", "ai_edge_litert")}, args
    assert "no images given" in predict()[0]


@pytest.fixture(scope="module")
def real_crops(tmp_path_factory) -> list[Path]:
    """Real crops: 16 plates cut from data/sample's photos, and 8 of the Argentine crops of
    ../shared where present."""
    from plateocr.cropping import crop_annotations

    sample = REPO_ROOT / "data" / "sample"
    root = tmp_path_factory.mktemp("real")
    with open(sample / "annot.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with open(root / "annot.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows[:17])
    result = crop_annotations(root / "annot.csv", sample / "images", root / "crops")
    paths = sorted(result.manifest.parent.glob("*.png"))
    assert len(paths) == 16
    if (REAL_AR_PLATES / "labels.csv").is_file():
        paths += sorted((REAL_AR_PLATES / "images").glob("*.png"))[:8]
    return paths


@pytest.mark.slow
def test_litert_reads_real_crops_as_tensorflow_does(real_crops, cache, builds, bundled_base_model_float32):
    """The bundled base model (converted with float32 weights) on real crops, both backends: views
    on and off, formats on and off. LiteRT converts it once, and then reuses that file."""
    from plateocr import PlateReader
    from plateocr.formats import Formats

    base = bundled_base_model_float32
    # A strong prior, so that the search keeps other candidates than the greedy reading on many crops
    formats = Formats({"LLNNNLL": 5, "LLLNNN": 3, "NNNLLLN": 2}, unseen=0.01, weight=3.0)
    seen = {}
    for tta in (True, False):
        for fmt in ("off", formats):
            with (
                PlateReader(base, tta=tta, formats=fmt, backend="tensorflow") as tf_reader,
                PlateReader(base, tta=tta, formats=fmt, backend="litert") as lite,
            ):
                expected = tf_reader.read_batch(real_crops, batch_size=10)
                got = lite.read_batch(real_crops, batch_size=10)
                _assert_same(got, expected)
                with_attention = [lite.read(real_crops[0], attention=True)]
                _assert_same(with_attention, [tf_reader.read(real_crops[0], attention=True)], attention=True)
            seen[tta, fmt == "off"] = got
    assert len(builds) == 1 and len(_litert_files(cache)) == 1  # converted once, then the stored file read
    # each option changes the readings, so each agreement above is one of its own
    texts = {key: [r.text for r in got] for key, got in seen.items()}
    assert texts[True, True] != texts[True, False] and texts[False, True] != texts[False, False]
    confidences = {key: [r.confidence for r in got] for key, got in seen.items()}
    assert confidences[True, True] != pytest.approx(confidences[False, True], abs=TOLERANCE)


# The bundled base model's shipped TFLite file stores float16 weights: its readings' confidences
# move by up to 0.006 from TensorFlow's on eu and ar crops, the texts not at all (all 255 plates).
FLOAT16_TOLERANCE = 0.02


@pytest.mark.slow
def test_the_bundled_base_model_ships_a_float16_tflite_that_reads_as_tensorflow(real_crops, cache, builds, monkeypatch):
    """A fresh install reads with the TFLite model shipped beside the bundled checkpoint (nothing
    converted, nothing written to the user cache): the texts TensorFlow reads, views and formats
    on and off, confidences within float16 rounding; and the file is current for today's sources."""
    import plateocr.base_model
    from plateocr import PlateReader
    from plateocr.formats import Formats
    from plateocr.inference.tflite_store import beside_path, read_stored, tflite_key
    from plateocr.model.modeldir import ModelDir

    if not (BUNDLED_BASE_MODEL / "config.json").is_file():
        pytest.skip("this install has no bundled base model")
    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", BUNDLED_BASE_MODEL)
    md = ModelDir(BUNDLED_BASE_MODEL)
    checkpoint = md.resolve_checkpoint()
    stored = read_stored(beside_path(checkpoint))
    assert stored is not None and stored[1] == tflite_key(md.config, checkpoint), (
        "stale or missing: regenerate it with `python scripts/build_bundled_tflite.py` and commit it"
    )
    assert beside_path(checkpoint).stat().st_size < 0.6 * Path(f"{checkpoint}.data-00000-of-00001").stat().st_size
    formats = Formats({"LLNNNLL": 5, "LLLNNN": 3, "NNNLLLN": 2}, unseen=0.01, weight=3.0)
    for tta, fmt in ((True, "off"), (False, formats)):
        with (
            PlateReader(tta=tta, formats=fmt, backend="tensorflow") as tf_reader,
            PlateReader(tta=tta, formats=fmt, backend="litert") as lite,
        ):
            expected = tf_reader.read_batch(real_crops, batch_size=12)
            got = lite.read_batch(real_crops, batch_size=12)
        assert [r.text for r in got] == [r.text for r in expected]
        for a, b in zip(got, expected):
            assert a.confidence == pytest.approx(b.confidence, abs=FLOAT16_TOLERANCE)
            assert a.char_confidences == pytest.approx(b.char_confidences, abs=FLOAT16_TOLERANCE)
    assert builds == [] and not _litert_files(cache)


@pytest.mark.slow
def test_train_leaves_the_checkpoint_predict_reads_converted(tmp_path, cache, builds, monkeypatch):
    """`plateocr train` builds the LiteRT model of best/ (else the latest) while TensorFlow is
    loaded, beside the checkpoint (and in the user cache), so the first reader after it builds
    nothing, even with the user cache gone; a conversion problem is a one-line note and training
    still succeeds."""
    from test_data import write_records
    from typer.testing import CliRunner

    from plateocr import PlateReader
    from plateocr.cli import app
    from plateocr.inference import litert_runner
    from plateocr.inference.tflite_store import beside_path, read_stored, tflite_cache_path, tflite_key
    from plateocr.model.modeldir import ModelDir

    write_records(tmp_path / "records", {"train": TEXTS, "val": TEXTS}, size=SIZE)
    args = ["train", "--data", str(tmp_path / "records"), "--model-dir", str(tmp_path / "model"), "--from-scratch"]
    args += ["--endpoint", "MaxPool_5a_3x3", "--batch-size", "4", "--no-augment", "--seed", "1"]
    args += ["--eval-every", "2", "--patience", "0"]
    real = litert_runner.build_tflite

    def broken(config, checkpoint, **kwargs):
        builds.append(checkpoint)
        raise litert_runner.LiteRTUnavailable("no converter today")

    monkeypatch.setattr(litert_runner, "build_tflite", broken)
    out = CliRunner().invoke(app, [*args, "--steps", "2"])
    assert out.exit_code == 0, out.output
    assert "note: the model for reading with LiteRT was not built (no converter today)" in out.output
    assert len(builds) == 1 and not _litert_files(cache)
    # remembered (test_a_failed_conversion_is_remembered); forgotten here, as another TensorFlow would
    (failed,) = cache.glob("litert-*.failed")
    failed.unlink()

    monkeypatch.setattr(litert_runner, "build_tflite", real)
    builds.clear()
    out = CliRunner().invoke(app, [*args, "--steps", "4"])  # resumed: best/ of steps 2 and 4
    assert out.exit_code == 0 and "note:" not in out.output, out.output
    md = ModelDir(tmp_path / "model")
    best = md.best_checkpoint()
    assert best is not None and builds == [best]
    assert _litert_files(cache) == [tflite_cache_path(md.config, best)]
    assert read_stored(beside_path(best))[1] == tflite_key(md.config, best)  # in the model directory
    builds.clear()
    shutil.rmtree(cache)  # the model directory alone starts warm
    with PlateReader(md.path) as reader:
        assert reader.backend == "litert" and reader.checkpoint == best
    assert builds == []  # warm: nothing converted
