"""PlateReader: the Python API for reading plates with a trained model directory.

One model per reader (start-up paid once), batched inference on uint8 images, images decoded
and fitted on worker threads while the previous batch runs. Images of any size are prepared
exactly as training saw its crops: fitted to the model's input size the way the dataset spec
says (plateocr.imaging.fit, stretch or keep-aspect), as RGB.

Example::

    from plateocr import PlateReader

    with PlateReader("model/") as reader:
        r = reader.read("crops/car1_L2.png")         # a path, an RGB array or PNG/JPEG bytes
        print(r.text, round(r.confidence, 3), r.char_confidences)
        for r in reader.read_batch(["a.png", "b.jpg", rgb_array]):
            print(r.text)
        readings = reader.read_batch(paths, progress=True)  # a progress bar (a widget in Jupyter)
        for plate in reader.read_photo("car.jpg"):  # a whole photo: plates found, then read
            print(plate.box, plate.text, round(plate.detection_score, 2))

    # the bundled base model, preferring the formats of your country's plates (plateocr.formats)
    with PlateReader(formats="my_formats.json") as reader:
        print(reader.read("plate.jpg").text)

Two backends run the model, with the same outputs and the same NumPy code after them (views,
vote, format search, decoding), so they read alike (texts equal, confidences within float
rounding; tested):

- "litert" (the default where ai-edge-litert is installed): the model's graph as TensorFlow Lite,
  run by LiteRT (plateocr.inference.litert_runner). The TFLite model of a checkpoint is read from
  beside it in the model directory (`plateocr train` leaves it there; the bundled base model
  ships with its own), else from the user's cache directory (plateocr.user_cache), else built
  (TensorFlow imported then, a few seconds) and stored in both (plateocr.inference.tflite_store);
  a reader then starts in a fraction of a second and imports no TensorFlow.
- "tensorflow": a TensorFlow session on the graph (the trainer's code path; with PLATEOCR_BF16,
  bfloat16 sessions). "auto" falls back to it where LiteRT is missing or cannot run the model,
  and says why in `backend_note`.

backend=None takes $PLATEOCR_BACKEND (auto, litert or tensorflow), else "auto". Importing
TensorFlow (either backend's first use of a checkpoint, or the tensorflow backend) happens once
per process: with oneDNN on, Keras 2 (tf_keras) and C++ logs off unless the environment says
otherwise (set only for the import, then removed), and with stderr's descriptor pointing to
/dev/null during that import. plateocr.model.compat says what else that import does and how to
choose otherwise. cache_graph=False neither reads nor writes a stored model: the user's cache
(the TFLite models and the TensorFlow graphs, plateocr.inference.graph_cache) and the TFLite
model beside the checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, Union

import cv2
import numpy as np

from plateocr.base_model import default_model_dir
from plateocr.defaults import READ_BACKEND_ENV, READ_BACKENDS, READ_BATCH_SIZE, READING_THRESHOLD
from plateocr.errors import PlateOCRError
from plateocr.imaging import decode_image, fit, read_bgr
from plateocr.inference.decoding import Reading
from plateocr.inference.format_search import build_tables, decode_outputs
from plateocr.inference.test_time_augmentation import read_views
from plateocr.model.modeldir import ModelDir
from plateocr.prefetch import prefetch_batches

__all__ = ["PlateReader", "Reading", "DEFAULT_BATCH_SIZE", "BACKENDS"]

DEFAULT_BATCH_SIZE = READ_BATCH_SIZE
BACKENDS, BACKEND_ENV = READ_BACKENDS, READ_BACKEND_ENV
ImageLike = Union[str, os.PathLike, np.ndarray, bytes]


def _as_rgb(array: np.ndarray, name: str) -> np.ndarray:
    """An RGB uint8 [H, W, 3] view of a user's array (grey and RGBA accepted)."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise PlateOCRError(f"{name}: expected a uint8 image array, got {a.dtype}")
    if a.ndim == 2:
        return cv2.cvtColor(a, cv2.COLOR_GRAY2RGB)
    if a.ndim == 3 and a.shape[2] == 1:
        return cv2.cvtColor(a[:, :, 0], cv2.COLOR_GRAY2RGB)
    if a.ndim == 3 and a.shape[2] == 4:
        return np.ascontiguousarray(a[:, :, :3])
    if a.ndim == 3 and a.shape[2] == 3:
        return a
    raise PlateOCRError(f"{name}: expected an image array [height, width, 3], got shape {a.shape}")


def choose_backend(backend: str | None) -> str:
    """backend, else $PLATEOCR_BACKEND, else "auto"; one of BACKENDS, or a PlateOCRError."""
    given = backend if backend is not None else os.environ.get(BACKEND_ENV) or "auto"
    chosen = str(given).strip().lower()
    if chosen not in BACKENDS:
        source = "backend" if backend is not None else BACKEND_ENV
        raise PlateOCRError(f"{source} {given!r}: expected one of {', '.join(BACKENDS)}")
    return chosen


class _SessionRunner:
    """The tensorflow backend: one session on the inference graph; run() as LiteRTRunner's."""

    def __init__(self, config, checkpoint: str, threads: int | None, use_cache: bool):
        from plateocr.model.restore import restore_checkpoint
        from plateocr.inference.graph_cache import inference_graph
        from plateocr.model.compat import session_config, tf1

        g = inference_graph(config, use_cache=use_cache)
        self._images = g.images
        self._tensors = {
            "chars": g.predicted_chars,
            "scores": g.predicted_scores,
            "confidence": g.sequence_confidence,
            "probs": g.char_probabilities,
            "attention": g.attention_masks,
        }
        g.graph.finalize()
        self.session = tf1.Session(graph=g.graph, config=session_config(threads))
        try:
            with g.graph.as_default():
                restore_checkpoint(self.session, g.saver, checkpoint)
        except PlateOCRError:
            self.session.close()
            raise

    def run(self, images: np.ndarray, names) -> dict[str, np.ndarray]:
        return self.session.run({n: self._tensors[n] for n in names}, {self._images: images})

    def close(self) -> None:
        self.session.close()


class PlateReader:
    """Reads plates with the model in `model_dir` (default checkpoint: best, else latest).

    model_dir None: model/ when it holds a model, else the bundled base model.

    read(image) -> Reading(text, confidence, char_confidences); read_batch(images) -> list.
    An image is a path, an RGB uint8 numpy array of any size, or encoded image bytes.
    threads: CPU threads for the model (default: all this process may use). cache_graph: keep
    the TFLite model beside the checkpoint and in the user's cache directory (plateocr.user_cache),
    and TensorFlow's graph in the latter, so the next start is faster; False neither reads nor
    writes them.
    tta: read each plate as a few re-framed views and keep what they agree on (more accurate,
    len(test_time_augmentation.VIEWS) times the work); False reads each image once.
    formats: prefer readings that follow the plates' formats (plateocr.formats): "auto" (the
    model directory's formats.json when there), "off", a formats file or a Formats.
    backend: "auto", "litert" or "tensorflow" (module docstring); None: $PLATEOCR_BACKEND, else
    "auto". `backend` then says which one reads, `backend_note` why "auto" fell back, if it did.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike | None = None,
        checkpoint: str | os.PathLike | None = None,
        threads: int | None = None,
        cache_graph: bool = True,
        tta: bool = True,
        formats="auto",
        backend: str | None = None,
    ):
        from plateocr.formats import resolve_formats

        choice = choose_backend(backend)
        md = ModelDir(default_model_dir(model_dir))
        self.model_dir = md.path
        self.charset = md.charset
        self.config = md.config
        self.spec = md.spec
        self.checkpoint = md.resolve_checkpoint(checkpoint)
        h, w, _ = self.config.image_shape
        self.size = (h, w)
        self.keep_aspect = bool(self.spec.keep_aspect)
        self.tta = tta
        self.formats = resolve_formats(formats, md.path)
        self._tables = build_tables(self.formats, self.charset, self.config.max_sequence_length)
        # listed formats this model cannot read (longer than its max length, or a class its
        # charset lacks): ignored, and said so by the commands
        self.unreadable_formats: tuple[str, ...] = (
            () if self.formats is None else self._tables.dropped if self._tables else tuple(self.formats.counts)
        )
        self.backend_note: str | None = None
        self._detector = None  # read_photo's default PlateDetector, opened on first use
        self._runner = None
        if choice != "tensorflow":
            self._runner = self._open_litert(choice == "litert", threads, cache_graph)
        if self._runner is None:
            self._runner = _SessionRunner(self.config, self.checkpoint, threads, cache_graph)
        self.backend = "tensorflow" if isinstance(self._runner, _SessionRunner) else "litert"

    @property
    def reads_formats(self) -> bool:
        """Whether readings are chosen with formats (some format given that this model can read)."""
        return self._tables is not None

    def _open_litert(self, required: bool, threads: int | None, use_cache: bool):
        """The LiteRT runner; None (with backend_note) where it cannot be had and not `required`."""
        from plateocr.inference import litert_runner

        try:
            if not litert_runner.available():
                raise litert_runner.LiteRTUnavailable("ai-edge-litert is not installed (pip install ai-edge-litert)")
            return litert_runner.open_runner(self.config, self.checkpoint, threads, use_cache)
        except litert_runner.LiteRTUnavailable as e:
            if required:
                raise
            self.backend_note = f"{e}: reading with TensorFlow"
            return None

    # --- preparing images -------------------------------------------------------------------
    def prepare_bgr(self, image_bgr: np.ndarray) -> np.ndarray:
        """A decoded BGR image (any size) -> RGB uint8 at the model's input size."""
        return cv2.cvtColor(fit(image_bgr, self.size, self.keep_aspect), cv2.COLOR_BGR2RGB)

    def prepare(self, image: ImageLike, name: str | None = None) -> np.ndarray:
        """A path, RGB array or encoded bytes -> RGB uint8 at the model's input size."""
        if isinstance(image, np.ndarray):
            rgb = _as_rgb(image, name or "image array")
            return fit(rgb, self.size, self.keep_aspect)
        if isinstance(image, (bytes, bytearray, memoryview)):
            return self.prepare_bgr(decode_image(bytes(image), name or "image bytes"))
        if isinstance(image, (str, os.PathLike)):
            return self.prepare_bgr(read_bgr(image))
        raise PlateOCRError(
            f"{name or 'image'}: expected a path, an RGB array or image bytes, got {type(image).__name__}"
        )

    # --- running the model ------------------------------------------------------------------
    def run(self, images: np.ndarray, attention: bool = False) -> list[Reading]:
        """Read a batch already prepared: uint8 RGB [B, H, W, 3] at the model's input size."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1:] != (*self.size, 3) or images.dtype != np.uint8:
            raise ValueError(
                f"run() needs uint8 [B, {self.size[0]}, {self.size[1]}, 3], got {images.dtype} {images.shape}"
            )
        if len(images) == 0:
            return []
        names = ["chars", "scores", "confidence"]
        if self._tables is not None:
            names.append("probs")  # each step's distribution, for the format search
        if attention:
            names.append("attention")

        def read(batch: np.ndarray) -> list[Reading]:
            return decode_outputs(self.charset, self._runner.run(batch, names), self._tables)

        return read_views(images, read, self.tta)

    def read(self, image: ImageLike, attention: bool = False) -> Reading:
        """Read one plate (path, RGB array or encoded bytes). Raises PlateOCRError if unreadable."""
        return self.run(self.prepare(image)[None], attention)[0]

    def read_batch(
        self,
        images: Sequence[ImageLike],
        batch_size: int = DEFAULT_BATCH_SIZE,
        attention: bool = False,
        progress: bool | Callable[[int, int | None], None] = False,
    ) -> list[Reading]:
        """Read many plates, in order. Raises PlateOCRError on the first unreadable image.

        progress: True shows a tqdm bar (tqdm.auto: a widget in a notebook, text in a terminal);
        a callable is called with (done, total) as the images are read.
        """
        report = _progress(progress, len(images) if hasattr(images, "__len__") else None)
        readings = []
        try:
            for _, result in self.read_many(self.loaders(images), batch_size, attention):
                if isinstance(result, PlateOCRError):
                    raise result
                readings.append(result)
                report(len(readings))
        finally:
            report(None)
        return readings

    def loaders(self, images: Iterable[ImageLike]) -> Iterator[Callable[[], np.ndarray]]:
        """One loader per image for read_many: prepares it (decode + fit) when called."""
        for i, image in enumerate(images):
            name = str(image) if isinstance(image, (str, Path)) else f"image {i}"
            yield lambda image=image, name=name: self.prepare(image, name)

    def read_many(
        self,
        loaders: Iterable[Callable[[], np.ndarray]],
        batch_size: int = DEFAULT_BATCH_SIZE,
        attention: bool = False,
        workers: int | None = None,
    ) -> Iterator[tuple[np.ndarray | None, Reading | PlateOCRError]]:
        """(prepared RGB image, Reading) per loader, in order; (None, error) for one that failed.

        Each loader returns an RGB image at the model's size (see loaders(), or wrap a BGR
        loader with prepare_bgr); they run on threads while the previous batch is inferred.
        """
        if batch_size < 1:
            raise PlateOCRError(f"--batch-size {batch_size}: must be at least 1")
        for batch in prefetch_batches(loaders, batch_size, workers):
            good = [x for x in batch if not isinstance(x, PlateOCRError)]
            readings = iter(self.run(np.stack(good), attention) if good else [])
            for x in batch:
                if isinstance(x, PlateOCRError):
                    yield None, x
                else:
                    yield x, next(readings)

    # --- whole photos -----------------------------------------------------------------------
    def read_photo(self, photo: ImageLike, detector=None, reading_threshold: float = READING_THRESHOLD) -> list:
        """The plates of a whole photo (a path, an RGB array or encoded bytes): found by
        `detector` (a PlateDetector; default: one on detector/ here, else the bundled base
        detector, opened on first use and kept), each cut as `crop` cuts a box and read, and
        kept where it reads like a plate (`reading_threshold`: the least confidence per
        character; 0 keeps every box).
        Returns plateocr.photo_reading.PhotoPlate items (box, detection_score, text,
        confidence, char_confidences), best detection first; as `predict --detect` reads."""
        from plateocr.photo_reading import read_photo_batch

        if isinstance(photo, np.ndarray):
            bgr = cv2.cvtColor(_as_rgb(photo, "photo array"), cv2.COLOR_RGB2BGR)
        elif isinstance(photo, (bytes, bytearray, memoryview)):
            bgr = decode_image(bytes(photo), "photo bytes")
        elif isinstance(photo, (str, os.PathLike)):
            bgr = read_bgr(photo)
        else:
            raise PlateOCRError(f"photo: expected a path, an RGB array or image bytes, got {type(photo).__name__}")
        if detector is None:
            if self._detector is None:
                from plateocr.detection.detector import PlateDetector

                self._detector = PlateDetector()
            detector = self._detector
        return read_photo_batch(self, detector, [bgr], reading_threshold)[0].plates

    # --- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
            self._detector = None
        self._runner.close()

    def __enter__(self) -> "PlateReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _progress(progress: bool | Callable, total: int | None) -> Callable[[int | None], None]:
    """report(done) for read_batch's `progress`; report(None) closes a tqdm bar."""
    if callable(progress):
        return lambda done: None if done is None else progress(done, total)
    if not progress:
        return lambda done: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="plate", desc="reading")

    def report(done: int | None) -> None:
        if done is None:
            bar.close()
        else:
            bar.update(done - bar.n)

    return report
