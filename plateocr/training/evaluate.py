"""Evaluation: every example of a split once, read with the inference decoding, scored.

evaluate() (`plateocr eval`, the benchmarks) reads a split's crops through PlateReader, the reader
`predict` uses (backend "auto": LiteRT where installed, with the checkpoint's TFLite model cached
per checkpoint), and the records with plateocr.training.data.read_split (no TensorFlow), so
`eval` scores exactly what `predict` would print and, with a warm cache, imports no TensorFlow.

Evaluator is the same scoring on a TensorFlow graph built once (is_training=False, greedy
decoding) that scores several checkpoints in turn: training's --eval-every (early_stopping)
keeps one, where converting every checkpoint to TFLite first would cost more than reading it.
Both read through plateocr.inference (decoding, the test-time views of test_time_augmentation,
the format search) and score in _add_examples, so their figures agree (tested).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from plateocr.charset import Charset
from plateocr.defaults import READ_BATCH_SIZE
from plateocr.errors import PlateOCRError
from plateocr.inference.format_search import build_tables, char_probabilities, decode_outputs
from plateocr.inference.test_time_augmentation import read_views
from plateocr.model.metrics import AccuracyCounts, accuracy_counts, differs_only_in_o_and_0
from plateocr.model.modeldir import ModelDir, checkpoint_step
from plateocr.spec import DatasetSpec

DEFAULT_BATCH_SIZE = READ_BATCH_SIZE

Progress = Callable[[int, int], None]  # (examples done, examples in the split)


@dataclass(frozen=True)
class CheckpointChoice:
    """The checkpoint `eval` scores and what chose it."""

    path: str
    kind: str  # "best" (best/), "latest" or "given" (a path)
    chosen_on: str | None = None  # the split that chose best/ (training's evaluation split)
    chosen_on_scored_split: bool = False  # chosen on the very split (and records) scored: overstated
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """E.g. "best/ = step 400, chosen on val"."""
        step = checkpoint_step(self.path)
        at = f"step {step}" if step is not None else Path(self.path).name
        if self.kind == "best":
            return f"best/ = {at}, chosen on {self.chosen_on or 'an unknown split'}"
        if self.kind == "latest":
            return f"latest = {at}, chosen on no split"
        return f"{self.path} = {at}, as given"


@dataclass(frozen=True)
class ExampleResult:
    index: int  # position in the split (file order)
    truth: str
    prediction: str
    confidence: float
    counts: AccuracyCounts  # this example's (plateocr.model.metrics definitions)

    @property
    def correct(self) -> bool:
        return self.counts.correct_sequences == 1

    @property
    def correct_chars(self) -> int:
        """Characters of the truth read correctly at their position."""
        return self.counts.correct_chars

    @property
    def o_vs_0_only(self) -> bool:
        """A mistake only in O against 0: often the label's (see plateocr.model.metrics)."""
        return differs_only_in_o_and_0(self.truth, self.prediction)


@dataclass
class EvalResult:
    split: str
    checkpoint: str
    step: int | None
    examples: list[ExampleResult] = field(default_factory=list)
    formats: str | None = None  # the formats file read with (format-aware reading), if any
    choice: CheckpointChoice | None = None  # set by evaluate(): which checkpoint, chosen on what
    backend: str | None = None  # what read it: PlateReader's "litert" or "tensorflow"; None: Evaluator's graph
    backend_note: str | None = None  # why PlateReader's "auto" read with TensorFlow, if it did

    @property
    def num_examples(self) -> int:
        return len(self.examples)

    @property
    def counts(self) -> AccuracyCounts:
        return sum((e.counts for e in self.examples), AccuracyCounts())

    @property
    def character_accuracy(self) -> float:
        """Characters read correctly at their position / characters in the truths."""
        return self.counts.char_accuracy

    @property
    def sequence_accuracy(self) -> float:
        """Fraction of examples whose whole text is read exactly (no missing or extra character)."""
        return self.counts.sequence_accuracy

    @property
    def mean_confidence(self) -> float:
        return float(np.mean([e.confidence for e in self.examples])) if self.examples else 0.0

    @property
    def errors(self) -> list[ExampleResult]:
        return [e for e in self.examples if not e.correct]

    @property
    def o_vs_0_errors(self) -> list[ExampleResult]:
        return [e for e in self.examples if e.o_vs_0_only]

    @property
    def sequence_accuracy_o_is_0(self) -> float:
        """Sequence accuracy if O and 0 were one character (for reading label noise; not the score)."""
        right = self.num_examples - len(self.errors) + len(self.o_vs_0_errors)
        return right / self.num_examples if self.examples else 0.0

    def worst_errors(self, n: int = 10) -> list[ExampleResult]:
        """Mistakes with the most wrong characters first, confident ones first among equals."""

        def key(e: ExampleResult):
            return -(max(len(e.truth), len(e.prediction)) - e.correct_chars), -e.confidence, e.index

        return sorted(self.errors, key=key)[:n]

    def metrics(self) -> dict:
        return {
            "split": self.split,
            "checkpoint": self.checkpoint,
            "step": self.step,
            "examples": self.num_examples,
            "errors": len(self.errors),
            "character_accuracy": self.character_accuracy,
            "sequence_accuracy": self.sequence_accuracy,
            "mean_confidence": self.mean_confidence,
            "errors_o_vs_0_only": len(self.o_vs_0_errors),
            "sequence_accuracy_o_is_0": self.sequence_accuracy_o_is_0,
            "formats": self.formats,
        }

    def report(self) -> dict:
        """metrics(), which checkpoint was scored, what chose it, notes, and which backend read it
        and why "auto" fell back, if it did (`eval --json`)."""
        c = self.choice
        return {
            **self.metrics(),
            "checkpoint_choice": c.kind if c else None,
            "chosen_on": c.chosen_on if c else None,
            "chosen_on_scored_split": c.chosen_on_scored_split if c else False,
            "choice": c.describe() if c else None,
            "notes": list(c.notes) if c else [],
            "backend": self.backend,
            "backend_note": self.backend_note,
        }

    def better_than(self, other: dict | None) -> bool:
        """Sequence accuracy first, character accuracy breaks ties (for keeping the best)."""
        if other is None:
            return True
        mine = (self.sequence_accuracy, self.character_accuracy)
        return mine > (other.get("sequence_accuracy", -1.0), other.get("character_accuracy", -1.0))

    def write_errors_csv(self, path: str | os.PathLike) -> None:
        from plateocr.outputs import write_csv_atomic

        header = ["index", "truth", "prediction", "confidence", "correct_chars", "o_vs_0_only"]
        rows = (
            [e.index, e.truth, e.prediction, f"{e.confidence:.4f}", e.correct_chars, int(e.o_vs_0_only)]
            for e in self.errors
        )
        write_csv_atomic(path, header, rows)


class Evaluator:
    """The eval graph for one split, built once; `evaluate(checkpoint)` scores a checkpoint."""

    def __init__(
        self,
        records_dir: str | os.PathLike,
        spec: DatasetSpec,
        charset: Charset,
        config,
        split: str = "test",
        batch_size: int = DEFAULT_BATCH_SIZE,
        tta: bool = True,
        formats=None,
    ):
        """formats: a plateocr.formats.Formats to read with (as PlateReader's), or None."""
        from plateocr.model.compat import session_config, tf, tf1
        from plateocr.training.data import eval_dataset
        from plateocr.model.network import build_model

        _check_split(records_dir, spec, split, batch_size)  # clear errors before building anything
        self.split = split
        self.records_dir, self.spec = records_dir, spec
        self.charset = charset
        self.size = spec.splits[split].size
        self.max_length = spec.max_sequence_length
        self.tta = tta
        self.formats = formats
        self._tables = build_tables(formats, charset, config.max_sequence_length)
        self.graph = tf.Graph()
        with self.graph.as_default():
            ds = eval_dataset(records_dir, spec, batch_size, split=split)
            self._iterator = tf1.data.make_initializable_iterator(ds)
            self._batch = self._iterator.get_next()
            # The model reads a placeholder, as predict's does, so a batch can be read as views.
            self._images = tf1.placeholder(tf.uint8, [None, *config.image_shape], name="images")
            ep = build_model(self._images, config, is_training=False)
            self._fetches = {
                "chars": ep.predicted_chars,
                "scores": ep.predicted_scores,
                "confidence": ep.sequence_confidence,
            }
            if self._tables is not None:
                self._fetches["probs"] = char_probabilities(ep)
            self._saver = tf1.train.Saver(tf1.global_variables())
        self.graph.finalize()
        self.session = tf1.Session(graph=self.graph, config=session_config())

    def _read(self, images: np.ndarray):
        return decode_outputs(self.charset, self.session.run(self._fetches, {self._images: images}), self._tables)

    def evaluate(self, checkpoint: str, progress: Progress | None = None) -> EvalResult:
        with self.graph.as_default():  # a v1 Saver/Session outside it would act eagerly
            return self._evaluate(checkpoint, progress)

    def _evaluate(self, checkpoint: str, progress: Progress | None) -> EvalResult:
        from plateocr.model.restore import restore_checkpoint
        from plateocr.model.compat import tf

        restore_checkpoint(self.session, self._saver, checkpoint)
        self.session.run(self._iterator.initializer)
        result = _new_result(self.split, checkpoint, self.formats if self._tables is not None else None)
        while True:
            try:
                batch = self.session.run(self._batch)
            except tf.errors.OutOfRangeError:
                break
            except tf.errors.DataLossError as e:  # a shard cut short or corrupted
                from plateocr.training.data import damaged_split_error

                raise damaged_split_error(self.records_dir, self.spec, self.split, e) from None
            readings = read_views(batch["images"], self._read, self.tta)
            truths = [t.decode("utf-8") for t in batch["texts"]]
            _add_examples(result, readings, truths, self.charset, self.max_length)
            if progress:
                progress(len(result.examples), self.size)
        return result

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Evaluator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _new_result(split: str, checkpoint: str, formats) -> EvalResult:
    """An empty EvalResult of `checkpoint` on `split`; formats: those read with, or None."""
    result = EvalResult(split=split, checkpoint=str(checkpoint), step=checkpoint_step(checkpoint))
    if formats is not None:
        result.formats = formats.source or "given"
    return result


def _add_examples(result: EvalResult, readings, truths, charset: Charset, max_length: int) -> None:
    """Score readings against their truths (texts), position by position: one ExampleResult each,
    appended to result in order. `charset` holds every character of both (scoring_charset)."""
    null = charset.null_code
    for reading, truth in zip(readings, truths, strict=True):
        n = max(max_length, len(truth), len(reading.text))
        read_ids, truth_ids = ([charset.pad(charset.encode(text), n)] for text in (reading.text, truth))
        result.examples.append(
            ExampleResult(
                index=len(result.examples),
                truth=truth,
                prediction=reading.text,
                confidence=reading.confidence,
                counts=accuracy_counts(np.asarray(read_ids), np.asarray(truth_ids, np.int32), null),
            )
        )


def scoring_charset(model: Charset, records: Charset) -> Charset:
    """The model's charset and any character only the records have: the truths a model cannot
    read still score (as misreadings) instead of failing."""
    extra = [c for c in records.chars if c is not None and model.unknown(c)]
    return Charset(chars=(*model.chars, *extra), null_code=model.null_code) if extra else model


def read_split_scored(
    reader,
    records_dir: str | os.PathLike,
    spec: DatasetSpec,
    split: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> EvalResult:
    """Every example of `split` read by `reader` (a PlateReader) and scored: the records read
    without TensorFlow (training.data.read_split), their images decoded on the reader's loader
    threads while the previous batch is read (PlateReader.read_many). The split and batch size
    are the caller's to check first (_check_split: evaluate does, before reading the model)."""
    from plateocr.training.data import decode_split_image, read_split

    result = _new_result(split, reader.checkpoint, reader.formats if reader.reads_formats else None)
    result.backend, result.backend_note = reader.backend, reader.backend_note
    charset = scoring_charset(reader.charset, Charset.read(Path(records_dir) / spec.charset_file))
    truths, readings = [], []

    def loaders():
        for example in read_split(records_dir, spec, split):
            truths.append(example.text)
            # fitted to the model's input as predict fits any crop (records of another size)
            yield lambda example=example: reader.prepare(decode_split_image(example, spec), example.name)

    def score() -> None:
        done = slice(len(result.examples), len(result.examples) + len(readings))
        _add_examples(result, readings, truths[done], charset, spec.max_sequence_length)
        readings.clear()
        if progress:
            progress(len(result.examples), spec.splits[split].size)

    for _, reading in reader.read_many(loaders(), batch_size):
        if isinstance(reading, PlateOCRError):
            raise reading
        readings.append(reading)
        if len(readings) == batch_size:
            score()
    if readings:
        score()
    return result


def _check_split(records_dir: str | os.PathLike, spec: DatasetSpec, split: str, batch_size: int) -> None:
    """The errors to give before any model or record is read: an unknown or empty split, a bad
    batch size."""
    from plateocr.training.data import split_files

    split_files(records_dir, spec, split)
    if batch_size < 1:
        raise PlateOCRError(f"--batch-size {batch_size}: must be at least 1")


def choose_checkpoint(
    md: ModelDir, which: str | os.PathLike | None, records_dir: str | os.PathLike, split: str
) -> CheckpointChoice:
    """The checkpoint to score on `split` of `records_dir` and what chose it.

    which: None (best/, else the latest), "best", "latest" or a checkpoint path. By default best/
    is never scored on the split that chose it (best/ of a model trained before val splits was
    chosen on test): the latest checkpoint is scored instead, with a note. Asked for by name, it
    is scored and flagged (chosen_on_scored_split).
    """
    same_records = md.records_dir is not None and Path(records_dir).resolve() == md.records_dir.resolve()
    chooser = (md.best_metrics() or {}).get("split")
    on_scored = same_records and chooser == split
    overstated = f"best/ was chosen on the {split} split scored here: this figure overstates"

    def best_choice(path: str, notes: tuple[str, ...] = ()) -> CheckpointChoice:
        return CheckpointChoice(path, "best", chooser, on_scored, notes + ((overstated,) if on_scored else ()))

    if which is None:
        best = md.best_checkpoint()
        if best is not None and not on_scored:
            return best_choice(best)
        latest = md.latest_checkpoint()
        if latest is None:
            return best_choice(md.resolve_checkpoint())  # raises when there is no checkpoint at all
        if best is not None:
            note = (
                f"best/ (step {checkpoint_step(best)}) was chosen on the {split} split scored here: scoring "
                "the latest checkpoint instead (--checkpoint best scores it anyway, an overstated figure)"
            )
        else:
            note = _why_no_best(md)
        return CheckpointChoice(latest, "latest", None, False, (note,) if note else ())
    path = md.resolve_checkpoint(which)
    if str(which) == "best" or Path(path).parent.resolve() == md.best_dir.resolve():
        return best_choice(path)
    return CheckpointChoice(path, "latest" if str(which) == "latest" else "given")


def _why_no_best(md: ModelDir) -> str | None:
    """Why a trained model has no best/, when its training records tell (none for the bundled
    base model, which records no training records)."""
    if md.records_dir is None:
        return None
    try:
        spec = DatasetSpec.read(md.records_dir)
    except PlateOCRError:
        spec = md.spec
    if "val" not in spec.splits or spec.splits["val"].size == 0:
        return f"{md.records_dir} has no val split: training kept the latest checkpoint, chosen on no split"
    if not md.options.get("eval_every"):
        return "trained with --eval-every 0: no best/ checkpoint, the latest is scored"
    return None


def evaluate(
    model_dir: str | os.PathLike,
    records_dir: str | os.PathLike | None = None,
    split: str = "test",
    checkpoint: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    tta: bool = True,
    formats="auto",
    backend: str | None = None,
) -> EvalResult:
    """Score a model directory's checkpoint on a records split (choose_checkpoint: by default
    best/, chosen on val, else the latest); result.choice says which and what chose it.

    Read through PlateReader, as predict reads (read_split_scored). tta: read as predict does by
    default, each plate as a few views (test_time_augmentation). formats: as predict's
    (plateocr.formats.resolve_formats): "auto", "off", a file, a Formats. backend: PlateReader's
    ("auto", "litert", "tensorflow"; None: $PLATEOCR_BACKEND, else "auto").

    records_dir defaults to the records the model was trained on (config.json), else records/.
    """
    from plateocr.defaults import RECORDS_DIR

    md = ModelDir(model_dir)
    if records_dir is None:
        records_dir = md.records_dir if md.records_dir is not None and md.records_dir.is_dir() else Path(RECORDS_DIR)
    records_dir = Path(records_dir)
    choice = choose_checkpoint(md, checkpoint, records_dir, split)
    spec = DatasetSpec.read(records_dir)
    # the records need not match the model: the reader fits every crop to the model's input and
    # scoring compares texts, so the base model scores records written for any charset, image
    # size or max length (`eval` before training). Views are the exception: fitting four views
    # side by side into a one-view model's input would score garbage
    if spec.num_of_views != md.config.num_of_views:
        raise PlateOCRError(
            f"{records_dir}: {spec.num_of_views} view(s) per image, but {md.path} reads "
            f"{md.config.num_of_views}; evaluate it on records written with as many views"
        )
    from plateocr.formats import resolve_formats

    from plateocr.inference.reader import PlateReader

    chosen = resolve_formats(formats, md.path)
    _check_split(records_dir, spec, split, batch_size)  # said before the model is read
    with PlateReader(md.path, choice.path, tta=tta, formats=chosen, backend=backend) as reader:
        result = read_split_scored(reader, records_dir, spec, split, batch_size, progress)
    result.choice = choice
    return result
