"""Export a trained model for serving: a SavedModel (TensorFlow Serving, tf.saved_model.load).

Signature `serving_default` takes encoded PNG/JPEG bytes (base64 {"b64": ...} over TensorFlow
Serving's REST API) and fits them to the model's input in the graph; signature `images` takes
uint8 RGB images at the model's input size. Both return text, confidence, char_ids,
char_probabilities and attention_masks. Like predict, the graph reads each image as five views
and votes (--no-tta: once); with --formats (default: the model folder's formats.json) each view's
reading prefers your plates' formats, as predict's does. --tflite also writes a TensorFlow Lite model (uint8
image in, ids and probabilities out; charset.txt maps ids to characters), checked against the
TensorFlow graph before it is kept.

With a plate detector (--detector, default detector/ here, else the bundled base detector;
--no-detector leaves it out), signature `photos` takes whole photos' PNG/JPEG bytes and does
what `predict --detect` does, in the one graph: finds the plates, cuts each box as `crop` cuts
it and reads it as above. Per photo, padded to 20 plates: boxes (xmin, xmax, ymin, ymax in the
photo's pixels), detection_scores, num_plates, texts, confidences. With --tflite, detector.tflite
too: a letterboxed uint8 [1, 384, 512, 3] photo in, the heatmap, size and offset heads out
(decode them with plateocr.detection.geometry.decode; export.json says how).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from plateocr import defaults
from plateocr.detection.geometry import THRESHOLD
from plateocr.formats import FORMATS_HELP


def run(
    model_dir: Optional[Path] = typer.Option(
        None,
        "--model-dir",
        help="Model folder `plateocr train` wrote. \\[default: model/, else the bundled base model]",
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Export folder. \\[default: <model-dir>/export; export/ for the bundled base model]"
    ),
    checkpoint: Optional[str] = typer.Option(
        None, "--checkpoint", help="best, latest, or a checkpoint path. \\[default: best, else latest]"
    ),
    tflite: bool = typer.Option(False, "--tflite", help="Also write a TensorFlow Lite model (plateocr.tflite)."),
    tta: bool = typer.Option(True, "--tta/--no-tta", help=defaults.TTA_HELP, show_default=False),
    formats: str = typer.Option("auto", "--formats", help=FORMATS_HELP, show_default=False),
    force: bool = typer.Option(False, "--force", help="Replace an earlier export in --out."),
    detector: Optional[Path] = typer.Option(
        None,
        "--detector",
        help="Detector folder `plateocr train-detector` wrote, for the photos signature. "
        "\\[default: detector/ if it exists, else the bundled one, else none]",
    ),
    no_detector: bool = typer.Option(False, "--no-detector", help="Leave the detector (photos signature) out."),
    detection_threshold: float = typer.Option(
        THRESHOLD, "--detection-threshold", help="The least detection score that counts as a plate, in the graph."
    ),
    reading_threshold: float = typer.Option(
        defaults.READING_THRESHOLD,
        "--reading-threshold",
        help="The least confidence per character of a found box's reading that keeps it, in the graph "
        "(as predict --detect's).",
    ),
) -> None:
    from rich.console import Console
    from rich.table import Table

    from plateocr.base_model import bundled_base_model, default_model_dir
    from plateocr.inference.export import export_model

    err = Console(stderr=True)
    model_dir = default_model_dir(model_dir)
    if model_dir == bundled_base_model():  # as eval and predict do
        err.print(f"no {defaults.MODEL_DIR}/ here: exporting the bundled base model")
    if detector is None and not no_detector:
        from plateocr.detection.detector import DETECTOR_DIR, bundled_base_detector, default_detector_dir

        if bundled_base_detector() is not None and default_detector_dir() == bundled_base_detector():
            err.print(f"no {DETECTOR_DIR}/ here: the photos signature finds plates with the bundled base detector")
    with err.status("exporting (building the graph, writing and checking the SavedModel)"):
        result = export_model(
            model_dir,
            out,
            checkpoint,
            force=force,
            tflite=tflite,
            tta=tta,
            formats=formats,
            detector=not no_detector,
            detector_dir=detector,
            detection_threshold=detection_threshold,
            reading_threshold=reading_threshold,
        )
    table = Table(title=f"exported {result.checkpoint}", title_justify="left")
    table.add_column("what")
    table.add_column("where / value", overflow="fold")
    table.add_row("SavedModel", str(result.out))
    table.add_row("signatures", ", ".join(result.signatures))
    table.add_row("input size", f"{result.input_size[0]}x{result.input_size[1]} (height x width)")
    table.add_row("reads", f"each image as {result.views} views, voted" if result.views > 1 else "each image once")
    table.add_row("charset", str(result.out / "charset.txt"))
    table.add_row(
        "formats", f"{len(result.formats)}, preferred in the graph (formats.json)" if result.formats else "off"
    )
    if result.tflite is not None:
        table.add_row("TFLite", f"{result.tflite} ({result.tflite_bytes / 1e6:.1f} MB, checked)")
    if result.detector is not None:
        table.add_row("detector", str(result.detector_checkpoint))
        table.add_row(
            "photos",
            f"plates from detection score {result.detection_threshold:g}, "
            f"reading confidence per character {result.reading_threshold:g}",
        )
    if result.detector_tflite is not None:
        size = result.detector_tflite_bytes / 1e6
        table.add_row(
            "detector TFLite", f"{result.detector_tflite} ({size:.1f} MB, checked; heads, decode as export.json says)"
        )
    Console().print(table)
    for note in result.notes:
        err.print(f"[yellow]note:[/yellow] {note}")
