"""Training: memorising a few plates, resuming, NaN stop, Ctrl-C, fine-tuning restores, bad input.

Tiny configs (32x96 images, tower up to MaxPool_5a_3x3) keep each training run to seconds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_data import TEXTS, write_records

from plateocr.charset import Charset
from plateocr.errors import PlateOCRError
from plateocr.model.modeldir import ModelDir
from plateocr.training.loop import NaNLossError, TrainingInterrupted, TrainListener, train
from plateocr.training.options import FINE_TUNE_LEARNING_RATE, FINE_TUNE_SYNTHETIC_SHARE, TrainOptions
from plateocr.training.restore import INCEPTION_SCOPE

TINY = {"final_endpoint": "MaxPool_5a_3x3", "batch_norm_decay": 0.9}
# eval_every 0: no early-stopping evaluations (their own tests turn them on)
FAST = {"batch_size": 5, "optimizer": "adam", "learning_rate": 0.003, "augment": False, "seed": 1, "eval_every": 0}


class Recorder(TrainListener):
    def __init__(self, interrupt_at: int | None = None):
        self.losses, self.messages, self.evals, self.started = [], [], [], None
        self.splits = set()  # the splits training scored
        self.interrupt_at = interrupt_at

    def start(self, first_step, total_steps):
        self.started = (first_step, total_steps)

    def step(self, step, loss, images_per_sec):
        self.losses.append(loss)
        if step == self.interrupt_at:
            raise KeyboardInterrupt

    def message(self, text):
        self.messages.append(text)

    def evaluated(self, step, metrics, is_best):
        self.evals.append((step, metrics["sequence_accuracy"], is_best))
        self.splits.add(metrics["split"])


def read_checkpoint(prefix):
    from plateocr.model.compat import tf

    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def summary_tags(folder) -> set[str]:
    from plateocr.model.compat import tf1

    tags = set()
    for events in folder.glob("events.out.tfevents.*"):
        for event in tf1.train.summary_iterator(str(events)):
            tags |= {v.tag for v in event.summary.value}
    return tags


@pytest.fixture
def records(tmp_path):
    texts = TEXTS[:5]
    write_records(tmp_path / "records", {"train": texts, "val": texts, "test": texts})
    return tmp_path / "records"


# The same five plate images: val labels them truly, test with each other's texts (no character at
# its place in common), so the more a checkpoint has learnt, the better it reads val and the worse test.
SWAPPED = [(TEXTS[i], TEXTS[(i + 1) % 5]) for i in range(5)]


def first_best(scores: list[tuple[int, float, float]]) -> int:
    """The step that keeping the best (sequence, then character accuracy; ties keep the earlier) keeps."""
    best = None
    for step, seq, char in scores:
        if best is None or (seq, char) > best[1:]:
            best = (step, seq, char)
    return best[0]


@pytest.mark.slow
def test_memorises_a_handful_of_plates_and_keeps_the_best_on_val_never_on_test(tmp_path):
    from plateocr.training.evaluate import evaluate

    records = tmp_path / "records"
    write_records(records, {"train": TEXTS[:5], "val": TEXTS[:5], "test": SWAPPED})
    rec = Recorder()
    options = {**FAST, "steps": 60, "eval_every": 15, "patience": 0, "keep_checkpoints": 4}
    result = train(records, tmp_path / "model", options, config_overrides=TINY, listener=rec)
    assert result.last_step == 60 and rec.started == (0, 60)
    assert np.mean(rec.losses[-5:]) < 0.6 * np.mean(rec.losses[:5])  # the loss falls
    md = ModelDir(tmp_path / "model")
    assert md.latest_checkpoint().endswith("ckpt-60")
    assert md.config.final_endpoint == "MaxPool_5a_3x3"  # the model dir describes the model
    assert md.options["steps"] == 60 and md.records_dir == records.resolve()
    tags = summary_tags(md.path)  # TensorBoard: losses, accuracies, sample readings, val scores
    assert {"loss/total", "train/character_accuracy", "train/learning_rate", "val/sequence_accuracy"} <= tags
    assert not any(t.startswith("test/") for t in tags)
    assert any(t.startswith("train/truth_vs_prediction") for t in tags)
    # --eval-every scored steps 15, 30, 45 and 60 on the val split only and kept the best in best/
    assert [s for s, _, _ in rec.evals] == [15, 30, 45, 60] and rec.splits == {"val"}
    best = md.best_metrics()
    assert best["split"] == "val" and best["sequence_accuracy"] == max(acc for _, acc, _ in rec.evals)
    assert md.best_checkpoint().startswith(str(md.best_dir))
    # What choosing on val and on test would keep, from each kept checkpoint's scores: they differ,
    # and best/ is val's choice.
    assert [c.rsplit("-", 1)[1] for c in md.checkpoints()] == ["15", "30", "45", "60"]
    scores = {
        split: [
            (ev.step, ev.sequence_accuracy, ev.character_accuracy)
            for ev in (evaluate(md.path, split=split, checkpoint=c, batch_size=5) for c in md.checkpoints())
        ]
        for split in ("val", "test")
    }
    on_val, on_test = first_best(scores["val"]), first_best(scores["test"])
    assert on_val != on_test, scores  # else this test could not tell which split chose
    assert best["step"] == on_val, scores
    # eval scores test by default, with that checkpoint, and says val chose it
    ev = evaluate(md.path, batch_size=5)
    assert ev.split == "test" and ev.step == on_val and ev.choice.kind == "best" and ev.choice.chosen_on == "val"
    assert ev.choice.describe() == f"best/ = step {on_val}, chosen on val" and not ev.choice.notes
    assert (ev.sequence_accuracy, ev.character_accuracy) == dict((s, (a, c)) for s, a, c in scores["test"])[on_val]
    # on val, the split that chose best/, eval scores the latest checkpoint instead, and says why
    ev = evaluate(md.path, split="val", batch_size=5)
    assert ev.step == 60 and ev.choice.kind == "latest" and "chosen on the val split scored here" in ev.choice.notes[0]
    # memorised: reads its own training plates
    ev = evaluate(tmp_path / "model", records, split="train", checkpoint="latest", batch_size=2)
    assert ev.num_examples == 5
    assert ev.sequence_accuracy >= 0.8, [(e.truth, e.prediction) for e in ev.examples]


@pytest.mark.slow
def test_early_stopping_is_on_by_default_and_stops_when_the_val_score_stalls(tmp_path, records):
    # By default the val split is scored (every 200 steps and at the end) and the best kept.
    assert TrainOptions().eval_every > 0 and TrainOptions().patience > 0
    defaults = {k: v for k, v in FAST.items() if k != "eval_every"}
    train(records, tmp_path / "default", {**defaults, "steps": 3}, config_overrides=TINY)
    assert ModelDir(tmp_path / "default").best_metrics()["step"] == 3

    # A model that cannot change (a vanishing rate, batch norm frozen) never beats its first
    # score: with --patience 2 it stops two evaluations after it, and says so.
    rec = Recorder()
    still = {**FAST, "learning_rate": 1e-12, "freeze_batch_norm": True, "eval_every": 5, "patience": 2, "steps": 100}
    result = train(records, tmp_path / "model", still, config_overrides=TINY, listener=rec)
    assert result.stopped_early and result.last_step == 15
    assert [(s, b) for s, _, b in rec.evals] == [(5, True), (10, False), (15, False)] and rec.splits == {"val"}
    md = ModelDir(tmp_path / "model")
    assert md.latest_checkpoint().endswith("ckpt-15") and md.best_metrics()["step"] == 5
    assert any(m.startswith("early stop at step 15: no better val score in 2 evaluations") for m in rec.messages)
    # Rerunning a run that stopped early trains nothing and says why; --patience 0 trains on
    rec = Recorder()
    result = train(records, tmp_path / "model", {"steps": 100}, listener=rec)
    assert result.stopped_early and result.last_step == 15
    assert any("stopped early before (step 15)" in m for m in rec.messages)
    result = train(records, tmp_path / "model", {"steps": 25, "patience": 0}, listener=Recorder())
    assert not result.stopped_early and result.last_step == 25

    # The count survives a resume: cut at step 10 (one evaluation past the best) and continued,
    # a --patience 3 run stops at step 20, where one uninterrupted run would.
    cut = {**still, "patience": 3}
    train(records, tmp_path / "cut", {**cut, "steps": 10}, config_overrides=TINY, listener=Recorder())
    assert ModelDir(tmp_path / "cut").early_stopping_state() == {"step": 10, "since_best": 1}
    result = train(records, tmp_path / "cut", {**cut, "steps": 100}, listener=Recorder())
    assert result.stopped_early and result.last_step == 20


@pytest.mark.slow
def test_fine_tuning_scores_its_starting_checkpoint_and_keeps_it_when_nothing_beats_it(tmp_path, records):
    train(records, tmp_path / "base", {**FAST, "steps": 2}, config_overrides=TINY)
    base = ModelDir(tmp_path / "base").latest_checkpoint()
    rec = Recorder()
    still = {**FAST, "learning_rate": 1e-12, "freeze_batch_norm": True, "eval_every": 5, "patience": 2, "steps": 100}
    result = train(records, tmp_path / "tuned", still, checkpoint=tmp_path / "base", listener=rec)
    # step 0 (the base's weights) is scored first, on val; the later, equal scores never replace it
    assert [(s, b) for s, _, b in rec.evals] == [(0, True), (5, False), (10, False)] and rec.splits == {"val"}
    assert result.stopped_early and result.last_step == 10
    md = ModelDir(tmp_path / "tuned")
    assert md.best_metrics()["step"] == 0 and md.best_checkpoint().endswith("ckpt-0")
    kept, started = read_checkpoint(md.best_checkpoint()), read_checkpoint(base)
    name = next(n for n in result.restored if n.endswith("Conv2d_1a_3x3/weights"))
    np.testing.assert_array_equal(kept[name], started[name])


@pytest.mark.slow
def test_resume_restores_step_and_optimizer_state(tmp_path, records):
    from plateocr.model.compat import tf1
    from plateocr.training.graph import build_graph
    from plateocr.training.restore import initialize

    opts = {**FAST, "optimizer": "momentum", "learning_rate": 0.01, "batch_size": 3}
    train(records, tmp_path / "model", {**opts, "steps": 4}, config_overrides=TINY)
    md = ModelDir(tmp_path / "model")
    saved = read_checkpoint(md.latest_checkpoint())
    assert saved["global_step"] == 4
    slots = [n for n in saved if n.endswith("/Momentum")]
    assert slots and any(np.abs(saved[n]).sum() > 0 for n in slots)

    # what a resumed run starts from: the same global step and optimizer slots
    spec = md.spec
    g = build_graph(md, records, spec, TrainOptions.resolve(md.options, None), None, None)
    with g.graph.as_default(), tf1.Session(graph=g.graph) as sess:
        initialize(g, sess, TrainListener(), md)
        assert sess.run(g.global_step) == 4
        slot_vars = {v.op.name: v for v in tf1.global_variables() if v.op.name in slots}
        assert set(slot_vars) == set(slots)
        for name, var in slot_vars.items():
            np.testing.assert_array_equal(sess.run(var), saved[name])

    # --steps is the total: running again continues from 4 to 7 with the stored options
    rec = Recorder()
    result = train(records, tmp_path / "model", {"steps": 7}, listener=rec)
    assert rec.started == (4, 7) and result.first_step == 4 and result.last_step == 7
    assert result.options.batch_size == 3 and result.options.optimizer == "momentum"
    assert any("resuming from" in m for m in rec.messages)
    assert read_checkpoint(ModelDir(tmp_path / "model").latest_checkpoint())["global_step"] == 7
    # another optimizer cannot reuse the saved slots: a clear refusal
    with pytest.raises(PlateOCRError, match="trained with --optimizer momentum"):
        train(records, tmp_path / "model", {"steps": 9, "optimizer": "adam"})


@pytest.mark.slow
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, records):
    opts = {**FAST, "optimizer": "sgd", "learning_rate": 0.01}
    train(records, tmp_path / "model", {**opts, "steps": 3}, config_overrides=TINY)
    md = ModelDir(tmp_path / "model")
    good = md.latest_checkpoint()
    with pytest.raises(NaNLossError, match="ckpt-3 is kept as the last good checkpoint"):
        train(records, tmp_path / "model", {"steps": 40, "learning_rate": 1e30})
    assert md.latest_checkpoint() == good
    weights = read_checkpoint(good)
    assert all(np.all(np.isfinite(v)) for v in weights.values() if v.dtype.kind == "f")


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_to_resume_from(tmp_path, records):
    with pytest.raises(TrainingInterrupted) as info:
        train(
            records, tmp_path / "model", {**FAST, "steps": 50}, config_overrides=TINY, listener=Recorder(interrupt_at=3)
        )
    assert info.value.checkpoint.endswith("ckpt-3")
    assert ModelDir(tmp_path / "model").latest_checkpoint() == info.value.checkpoint
    assert read_checkpoint(info.value.checkpoint)["global_step"] == 3


@pytest.mark.slow
def test_fine_tune_restores_what_fits_and_reports_the_rest(tmp_path, records):
    train(records, tmp_path / "base", {**FAST, "steps": 2}, config_overrides=TINY)
    base = read_checkpoint(ModelDir(tmp_path / "base").latest_checkpoint())
    # new records with one more character: the output layer no longer fits by shape
    other = Charset.from_texts(TEXTS[:5] + ["Ö"])
    write_records(tmp_path / "other", {"train": TEXTS[:5] + ["AÖ1"]}, charset=other)
    rec = Recorder()
    result = train(
        tmp_path / "other",
        tmp_path / "tuned",
        {**FAST, "steps": 1, "learning_rate": 1e-9},
        checkpoint=tmp_path / "base",
        listener=rec,
    )
    # the new model has the base model's architecture, the new records' charset
    assert ModelDir(tmp_path / "tuned").config.final_endpoint == TINY["final_endpoint"]
    assert ModelDir(tmp_path / "tuned").config.num_classes == other.num_classes
    softmax = "AttentionOcr_v1/sequence_logit_fn/SQLR/softmax_w"
    # ... so it is rebuilt character by character (plateocr.model.charset_transfer)
    assert softmax in result.restored and not any(s.startswith(softmax) for s in result.skipped)
    assert any(n.startswith(INCEPTION_SCOPE) for n in result.restored)
    assert "global_step" not in result.restored and not any(n.endswith("/Adam") for n in result.restored)
    assert any("restored" in m and "skipped" in m for m in rec.messages)
    assert any(m.startswith("charset: 5 per-character variables") for m in rec.messages)
    tuned = read_checkpoint(ModelDir(tmp_path / "tuned").latest_checkpoint())
    name = next(n for n in result.restored if n.endswith("Conv2d_1a_3x3/weights"))
    np.testing.assert_allclose(tuned[name], base[name], atol=1e-6)  # lr 1e-9: still the base's
    assert tuned[softmax].shape != base[softmax].shape
    old = Charset.read(tmp_path / "base" / "charset.txt")
    for ch in "0AZ":  # each known character's output column came along
        np.testing.assert_allclose(tuned[softmax][:, other.id_of(ch)], base[softmax][:, old.id_of(ch)], atol=1e-6)


@pytest.mark.slow
def test_a_new_model_starts_from_the_bundled_base_model(tmp_path, records, monkeypatch):
    import plateocr.base_model

    train(records, tmp_path / "base", {**FAST, "steps": 2}, config_overrides=TINY)
    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", tmp_path / "base")
    rec = Recorder()
    result = train(records, tmp_path / "tuned", {**FAST, "steps": 1, "learning_rate": None}, listener=rec)
    assert any("bundled base model" in m for m in rec.messages)
    assert result.options.learning_rate == FINE_TUNE_LEARNING_RATE  # fine-tuning's own defaults
    assert result.options.synthetic_share == FINE_TUNE_SYNTHETIC_SHARE  # records of max length 6 hold them
    assert ModelDir(tmp_path / "tuned").config.final_endpoint == TINY["final_endpoint"]  # its architecture
    assert any(n.startswith(INCEPTION_SCOPE) for n in result.restored)
    # --from-scratch: random weights, plateocr's default architecture
    rec = Recorder()
    result = train(
        records,
        tmp_path / "scratch",
        {**FAST, "steps": 1, "learning_rate": None},
        config_overrides=TINY,
        from_scratch=True,
        listener=rec,
    )
    assert not result.restored and not any("bundled" in m for m in rec.messages)
    assert result.options.learning_rate == TrainOptions().learning_rate
    assert result.options.synthetic_share == 0  # rehearsal is fine-tuning's
    # resuming a model dir does not start again from the base model
    rec = Recorder()
    train(records, tmp_path / "tuned", {**FAST, "steps": 2}, listener=rec)
    assert not any("bundled" in m for m in rec.messages) and any("resuming" in m for m in rec.messages)


@pytest.mark.slow
def test_inception_checkpoint_fills_the_conv_tower(tmp_path, records):
    from plateocr.model.compat import inception_v3, slim, tf, tf1

    # an ImageNet-style slim checkpoint: variables named InceptionV3/...
    with tf.Graph().as_default():
        images = tf1.placeholder(tf.float32, [1, 75, 75, 3])
        with slim.arg_scope(inception_v3.inception_v3_arg_scope()):
            inception_v3.inception_v3_base(images, final_endpoint="Mixed_5b", scope="InceptionV3")
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            prefix = tf1.train.Saver().save(sess, str(tmp_path / "inception" / "inception_v3.ckpt"))
    imagenet = read_checkpoint(prefix)
    result = train(
        records,
        tmp_path / "model",
        {**FAST, "steps": 1, "learning_rate": 1e-9},
        config_overrides=TINY,
        checkpoint_inception=prefix,
    )
    assert result.restored and all(n.startswith(INCEPTION_SCOPE + "InceptionV3/") for n in result.restored)
    assert not result.skipped  # every tower variable up to MaxPool_5a is in the checkpoint
    tuned = read_checkpoint(ModelDir(tmp_path / "model").latest_checkpoint())
    assert any("moving_mean" in n for n in result.restored)  # batch-norm statistics too
    for name in (n for n in result.restored if "moving_" not in n):  # one step moves the averages
        np.testing.assert_allclose(tuned[name], imagenet[name[len(INCEPTION_SCOPE) :]], atol=1e-6)


def test_records_with_another_charset_are_refused(tmp_path, records):
    from tiny_model import random_model_dir

    # a model with a checkpoint (one without is a new model, started again: see below)
    random_model_dir(tmp_path / "model", charset=Charset.read(records / "charset.txt"))
    other = Charset.from_texts(["XYZ", "Ä"])
    write_records(tmp_path / "other", {"train": ["XYZ", "Ä1"]}, charset=other)
    with pytest.raises(PlateOCRError, match="charset .* differs from the one .*model was trained with"):
        train(tmp_path / "other", tmp_path / "model", {"steps": 1})
    write_records(tmp_path / "big", {"train": TEXTS[:5]}, size=(48, 96))
    with pytest.raises(PlateOCRError, match="image_shape"):
        train(tmp_path / "big", tmp_path / "model", {"steps": 1})


def test_bad_inputs_are_clear_errors(tmp_path, records):
    with pytest.raises(PlateOCRError, match="dataset spec not found"):
        train(tmp_path / "nothing", tmp_path / "model", {"steps": 1})
    write_records(tmp_path / "empty", {"train": [], "test": TEXTS[:2]})
    with pytest.raises(PlateOCRError, match="split 'train' has no examples"):
        train(tmp_path / "empty", tmp_path / "model", {"steps": 1})
    with pytest.raises(PlateOCRError, match="--optimizer 'lbfgs'"):
        train(records, tmp_path / "model", {"steps": 1, "optimizer": "lbfgs"})
    with pytest.raises(PlateOCRError, match="--steps 0"):
        train(records, tmp_path / "model", {"steps": 0})
    with pytest.raises(PlateOCRError, match="checkpoint not found"):
        train(records, tmp_path / "model", {"steps": 1}, checkpoint=tmp_path / "missing.ckpt")
    with pytest.raises(PlateOCRError, match="--micro-batches 3: must divide --batch-size 8"):
        train(records, tmp_path / "model", {"steps": 1, "batch_size": 8, "micro_batches": 3})
    with pytest.raises(PlateOCRError, match="--train-layers 'head': choose one of all, top, decoder"):
        train(records, tmp_path / "model", {"steps": 1, "train_layers": "head"})
    write_records(tmp_path / "long", {"train": TEXTS[:2]}, max_len=10)
    with pytest.raises(PlateOCRError, match=r"--synthetic-share 1.0: must be in \[0, 1\)"):
        train(tmp_path / "long", tmp_path / "model", {"steps": 1, "synthetic_share": 1.0})
    write_records(tmp_path / "short", {"train": TEXTS[:2]}, max_len=5)
    with pytest.raises(PlateOCRError, match="cannot mix in synthetic plates: the records' max length 5 is under 6"):
        train(tmp_path / "short", tmp_path / "model", {"steps": 1, "synthetic_share": 0.5}, config_overrides=TINY)
    assert not (tmp_path / "model").exists()  # nothing was created for a failed start


@pytest.mark.slow
def test_micro_batches_train_the_same_model_dir(tmp_path, records):
    # Each batch in 5 parts of 1 image: the trainer's memory-saving path learns and checkpoints.
    rec = Recorder()
    opts = {**FAST, "steps": 30, "micro_batches": 5}
    result = train(records, tmp_path / "model", opts, config_overrides=TINY, listener=rec)
    assert result.last_step == 30
    assert np.mean(rec.losses[-5:]) < 0.8 * np.mean(rec.losses[:5])
    saved = read_checkpoint(ModelDir(tmp_path / "model").latest_checkpoint())
    assert saved["global_step"] == 30 and ModelDir(tmp_path / "model").options["micro_batches"] == 5


def summary_texts(folder, tag: str) -> list[str]:
    from plateocr.model.compat import tf, tf1

    texts = []
    for events in folder.glob("events.out.tfevents.*"):
        for event in tf1.train.summary_iterator(str(events)):
            for v in event.summary.value:
                if v.tag.startswith(tag):
                    texts += [t.decode() for t in tf.make_ndarray(v.tensor).ravel()]
    return texts


@pytest.mark.slow
def test_synthetic_share_mixes_rendered_plates_into_the_batches(tmp_path):
    records = tmp_path / "records"
    write_records(records, {"train": TEXTS[:5], "test": TEXTS[:5]}, max_len=10)
    opts = {**FAST, "steps": 6, "synthetic_share": 0.5, "summary_every": 1}
    result = train(records, tmp_path / "model", opts, config_overrides=TINY, from_scratch=True)
    assert result.last_step == 6 and result.options.synthetic_share == 0.5
    assert ModelDir(tmp_path / "model").options["synthetic_share"] == 0.5  # a resumed run keeps it
    # the logged samples ("truth -> prediction", first 4 of each batch) hold rendered plates too
    truths = {t.split(" -> ")[0] for t in summary_texts(tmp_path / "model", "train/truth_vs_prediction")}
    assert truths & set(TEXTS[:5]) and truths - set(TEXTS[:5])


def bfloat16_nodes(config) -> int:
    """Nodes of bfloat16 type in the graph a session with `config` runs for one convolution."""
    from plateocr.model.compat import slim, tf, tf1

    graph = tf.Graph()
    with graph.as_default():
        images = tf1.placeholder(tf.float32, [1, 16, 16, 3])
        out = tf.reduce_sum(slim.conv2d(images, 4, [3, 3]))
        options = tf1.RunOptions(output_partition_graphs=True)
        meta = tf1.RunMetadata()
        with tf1.Session(graph=graph, config=config) as sess:
            sess.run(tf1.global_variables_initializer())
            value = sess.run(out, {images: np.ones((1, 16, 16, 3), np.float32)}, options=options, run_metadata=meta)
    assert np.isfinite(value)
    bf16 = tf.bfloat16.as_datatype_enum
    return sum(1 for g in meta.partition_graphs for n in g.node if any(a.type == bf16 for a in n.attr.values()))


def test_bfloat16_training_sessions_run_convolutions_in_bfloat16_and_float32_ones_do_not(monkeypatch):
    from plateocr.model.compat import bf16_is_native
    from plateocr.training.precision import training_session_config, uses_bf16

    assert uses_bf16("bfloat16") and not uses_bf16("float32") and uses_bf16("auto") == bf16_is_native()
    if not bf16_is_native():
        pytest.skip("this CPU has no native bfloat16 (AVX512-BF16, AMX)")
    monkeypatch.setenv("PLATEOCR_BF16", "1")  # what the other sessions use does not leak into training's
    assert bfloat16_nodes(training_session_config("float32")) == 0
    monkeypatch.setenv("PLATEOCR_BF16", "0")
    assert bfloat16_nodes(training_session_config("bfloat16")) > 0


def test_precision_reaches_the_training_session_and_is_stored(tmp_path, records, monkeypatch):
    import plateocr.training.precision as precision_module
    from plateocr.model.compat import bf16_is_native

    asked = []

    def recording_config(precision):
        asked.append(precision_module.uses_bf16(precision))
        return real_config("float32")  # float32 on any CPU: the test stays fast

    real_config = precision_module.training_session_config
    monkeypatch.setattr(precision_module, "training_session_config", recording_config)
    for precision, expected in (("float32", False), ("bfloat16", True), ("auto", bf16_is_native())):
        model, rec = tmp_path / precision, Recorder()
        result = train(
            records, model, {**FAST, "steps": 2, "precision": precision}, config_overrides=TINY, listener=rec
        )
        assert result.last_step == 2 and ModelDir(model).options["precision"] == precision
        assert asked[-1] is expected
        said = [m for m in rec.messages if m.startswith("precision: ")]
        assert len(said) == 1 and said[0].startswith("precision: bfloat16" if expected else "precision: float32")
    assert TrainOptions().precision == "auto"
    with pytest.raises(PlateOCRError, match="--precision 'half'"):
        train(records, tmp_path / "bad", {**FAST, "steps": 2, "precision": "half"}, config_overrides=TINY)


def test_options_resolve_defaults_then_stored_then_given():
    opts = TrainOptions.resolve(
        {"batch_size": 8, "learning_rate": 0.1, "unknown_old": 1}, {"learning_rate": 0.2, "steps": None}
    )
    assert opts.batch_size == 8 and opts.learning_rate == 0.2 and opts.steps == TrainOptions().steps
    with pytest.raises(PlateOCRError, match="unknown training option"):
        TrainOptions.resolve(None, {"bogus": 1})


@pytest.mark.slow
def test_cli_pipeline_as_written_with_defaults(tmp_path, monkeypatch):
    """crop annot.csv, tfrecords --split 0.83, then train/eval with their default folders,
    starting from the bundled base model as a user's install does (when this one has it)."""
    import plateocr.base_model
    from conftest import BUNDLED_BASE_MODEL, make_photos
    from typer.testing import CliRunner

    from plateocr.cli import app

    monkeypatch.setattr(plateocr.base_model, "BASE_MODEL_DIR", BUNDLED_BASE_MODEL)
    has_base = plateocr.base_model.bundled_base_model() is not None

    plates = ["AB123", "CD456", "EF789", "GH12", "JK345", "LM678", "NP90"]
    make_photos(tmp_path, [(f"car{i}.png", t, (30, 230, 100, 150)) for i, t in enumerate(plates)])
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for args in (["crop", "annot.csv"], ["tfrecords", "--split", "0.83"]):
        out = runner.invoke(app, args)
        assert out.exit_code == 0, out.output
    # the default model (default crop size, full tower), cut short by a time limit: one step, then saved
    out = runner.invoke(app, ["train", "--steps", "3000", "--batch-size", "4", "--time-limit", "0.0001"])
    assert out.exit_code == 0, out.output
    assert "time limit reached at step 1" in out.output
    assert ("bundled base model" in out.output) == has_base
    assert ModelDir("model").latest_checkpoint().endswith("ckpt-1")
    out = runner.invoke(app, ["train", "--steps", "2"])  # resumes with the stored batch size
    assert out.exit_code == 0, out.output
    assert "resuming from" in out.output and "1 -> 2" in out.stdout
    assert json.loads((tmp_path / "model" / "config.json").read_text())["training"]["batch_size"] == 4
    out = runner.invoke(app, ["train", "--steps", "2"])
    assert out.exit_code == 0 and "already at step 2" in out.output
    # early stopping (on by default) scored both runs' ends, and the base model's weights it
    # started from (step 0), on the val split; eval reads the best of them on the test split
    best = ModelDir("model").best_metrics()
    assert best["step"] in ((0, 1, 2) if has_base else (1, 2)) and best["split"] == "val"
    out = runner.invoke(app, ["eval", "--json"])
    assert out.exit_code == 0, out.output
    metrics = json.loads(out.stdout)
    assert metrics["step"] == best["step"] and metrics["examples"] >= 1 and metrics["split"] == "test"
    assert metrics["checkpoint_choice"] == "best" and metrics["chosen_on"] == "val"
    assert metrics["choice"] == f"best/ = step {best['step']}, chosen on val" and not metrics["chosen_on_scored_split"]
    out = runner.invoke(app, ["eval"])
    assert out.exit_code == 0 and f"best/ = step {best['step']}, chosen on val" in out.stdout
    out = runner.invoke(app, ["eval", "--json", "--checkpoint", "latest"])
    assert out.exit_code == 0 and json.loads(out.stdout)["step"] == 2
    out = runner.invoke(app, ["train", "--data", "nowhere"])
    assert out.exit_code != 0


class InterruptOn(Recorder):
    """Ctrl-C when a message starting with `prefix` is shown (e.g. before the first checkpoint)."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def message(self, text):
        super().message(text)
        if text.startswith(self.prefix):
            raise KeyboardInterrupt


@pytest.mark.slow
def test_a_run_stopped_before_its_first_checkpoint_starts_again_from_the_given_checkpoint(tmp_path, records):
    train(records, tmp_path / "base", {**FAST, "steps": 2}, config_overrides=TINY)
    base = tmp_path / "base"
    with pytest.raises(KeyboardInterrupt):  # after restoring the base, before any checkpoint
        train(
            records, tmp_path / "model", {**FAST, "steps": 3}, checkpoint=base, listener=InterruptOn("model: restored")
        )
    md = ModelDir(tmp_path / "model")
    assert md.latest_checkpoint() is None and (tmp_path / "model" / "config.json").is_file()
    rec = Recorder()
    result = train(records, tmp_path / "model", {**FAST, "steps": 3}, checkpoint=base, listener=rec)
    assert any(
        m.endswith("no checkpoint yet (an earlier run stopped before its first one); starting it as a new model")
        for m in rec.messages
    )
    assert result.first_step == 0 and any(n.startswith(INCEPTION_SCOPE) for n in result.restored)  # not random


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_is_one_line_and_leaves_no_temporary_state(tmp_path, records):
    from conftest import file_size_limit

    with pytest.raises(PlateOCRError, match=r"model/ckpt-2: cannot write the checkpoint \(File too large\)$"):
        with file_size_limit(2_000_000):  # a tiny model's checkpoint is ~9 MB
            train(records, tmp_path / "model", {**FAST, "steps": 2}, config_overrides=TINY)
    left = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert not [n for n in left if n.startswith("ckpt-") or "tempstate" in n], left


@pytest.mark.slow
def test_a_resumed_run_rotates_the_checkpoints_of_the_earlier_run_too(tmp_path, records):
    opts = {**FAST, "save_every_steps": 1, "keep_checkpoints": 3}
    with pytest.raises(TrainingInterrupted):
        train(
            records, tmp_path / "model", {**opts, "steps": 9}, config_overrides=TINY, listener=Recorder(interrupt_at=4)
        )
    train(records, tmp_path / "model", {"steps": 7})
    md = ModelDir(tmp_path / "model")
    assert [p.rsplit("/", 1)[-1] for p in md.checkpoints()] == ["ckpt-5", "ckpt-6", "ckpt-7"]


def test_a_damaged_train_shard_is_named_before_any_work(tmp_path):
    write_records(tmp_path / "records", {"train": TEXTS[:5], "test": TEXTS[:2]})
    shard = tmp_path / "records" / "train-00001-of-00002.tfrecord"
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size - 500)
    with pytest.raises(PlateOCRError) as e:
        train(tmp_path / "records", tmp_path / "model", {**FAST, "steps": 2}, config_overrides=TINY)
    assert str(e.value).startswith(f"{shard}: damaged records file (cut short in record ")
    assert str(e.value).endswith("; write the records again (`plateocr tfrecords --force`)")
    assert not (tmp_path / "model").exists()


@pytest.mark.slow
def test_records_without_a_val_split_keep_the_latest_checkpoint_and_eval_says_so(tmp_path):
    from plateocr.training.evaluate import evaluate

    # records written before val splits (or with --val 0): no evaluation, the latest checkpoint kept
    old = tmp_path / "old_records"
    write_records(old, {"train": TEXTS[:5], "test": TEXTS[:5]})
    rec = Recorder()
    options = {k: v for k, v in FAST.items() if k != "eval_every"}  # evaluating by default
    result = train(old, tmp_path / "model", {**options, "steps": 2}, config_overrides=TINY, listener=rec)
    assert result.best is None and rec.evals == [] and not (tmp_path / "model" / "best").exists()
    assert any(
        m.startswith(
            f"note: {old} has no val split (written with --val 0, from too few plates, or before "
            "val splits): no evaluation, no early stopping; training runs to the end and keeps the "
            "latest checkpoint"
        )
        for m in rec.messages
    )
    ev = evaluate(tmp_path / "model", batch_size=5)
    assert ev.split == "test" and ev.step == 2 and ev.choice.kind == "latest" and ev.choice.chosen_on is None
    assert ev.choice.describe() == "latest = step 2, chosen on no split"
    assert ev.choice.notes == (
        f"{old.resolve()} has no val split: training kept the latest checkpoint, chosen on no split",
    )

    # a model dir from before val splits: its best/ was chosen on test
    train(old, tmp_path / "was", {**options, "steps": 2, "eval_every": 1}, config_overrides=TINY, eval_split="test")
    chosen = ModelDir(tmp_path / "was").best_metrics()
    assert chosen["split"] == "test"
    ev = evaluate(tmp_path / "was", batch_size=5)  # never that figure by default: the latest, and why
    assert ev.step == 2 and ev.choice.kind == "latest"
    assert ev.choice.notes[0].startswith(f"best/ (step {chosen['step']}) was chosen on the test split scored here")
    ev = evaluate(tmp_path / "was", checkpoint="best", batch_size=5)  # asked for: scored, and flagged
    assert ev.step == chosen["step"] and ev.choice.chosen_on_scored_split
    assert ev.report()["notes"] == ["best/ was chosen on the test split scored here: this figure overstates"]
    # ... trained on with records that have a val split, it chooses again on val
    new = tmp_path / "new_records"
    write_records(new, {"train": TEXTS[:5], "val": TEXTS[:3], "test": TEXTS[3:5]})
    rec = Recorder()
    train(new, tmp_path / "was", {"steps": 3}, listener=rec)
    assert any(
        m == f"best/ (step {chosen['step']}) was chosen on the test split; choosing again on val" for m in rec.messages
    )
    assert rec.evals and rec.splits == {"val"} and ModelDir(tmp_path / "was").best_metrics()["split"] == "val"
    assert evaluate(tmp_path / "was", batch_size=5).choice.chosen_on == "val"


@pytest.mark.parametrize("minutes", ["-1", "0", "nan"])
def test_a_time_limit_that_is_not_positive_is_refused(tmp_path, monkeypatch, capsys, minutes):
    from test_cli_crop import cli

    monkeypatch.chdir(tmp_path)
    code, _, err = cli(["train", "--time-limit", minutes], monkeypatch, capsys)
    assert code == 1
    assert err.strip() == f"error: --time-limit {float(minutes):g}: must be a positive number of minutes"
    assert list(tmp_path.iterdir()) == []
