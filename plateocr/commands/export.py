"""Export a trained model for serving: a SavedModel (TensorFlow Serving, tf.saved_model.load).

Signature `serving_default` takes encoded PNG/JPEG bytes (base64 {"b64": ...} over TensorFlow
Serving's REST API) and fits them to the model's input in the graph; signature `images` takes
uint8 RGB images at the model's input size. Both return text, confidence, char_ids,
char_probabilities and attention_masks. Like predict, the graph reads each image as five views
and votes (--no-tta: once); with --formats (default: the model folder's formats.json) each view's
reading prefers your plates' formats, as predict's does. --tflite also writes a TensorFlow Lite model (uint8
image in, ids and probabilities out; charset.txt maps ids to characters), checked against the
TensorFlow graph before it is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from plateocr import defaults
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
) -> None:
    from rich.console import Console
    from rich.table import Table

    from plateocr.base_model import bundled_base_model, default_model_dir
    from plateocr.inference.export import export_model

    err = Console(stderr=True)
    model_dir = default_model_dir(model_dir)
    if model_dir == bundled_base_model():  # as eval and predict do
        err.print(f"no {defaults.MODEL_DIR}/ here: exporting the bundled base model")
    with err.status("exporting (building the graph, writing and checking the SavedModel)"):
        result = export_model(model_dir, out, checkpoint, force=force, tflite=tflite, tta=tta, formats=formats)
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
    Console().print(table)
    for note in result.notes:
        err.print(f"[yellow]note:[/yellow] {note}")
