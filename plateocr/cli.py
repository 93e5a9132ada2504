"""The `plateocr` command: one Typer app, one module per subcommand in plateocr.commands."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from plateocr.errors import PlateOCRError

app = typer.Typer(
    help="Number-plate OCR: crop plates, write FSNS records, train, evaluate and predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    # A callback keeps `plateocr <command>` a group even while only one command module exists.
    pass

# (module, command name). Each module defines `run` as a Typer command function.
COMMANDS = [
    ("synth", "synth"),
    ("crop", "crop"),
    ("tfrecords", "tfrecords"),
    ("train", "train"),
    ("eval", "eval"),
    ("predict", "predict"),
    ("export", "export"),
    ("demo", "demo"),
]

for _module, _name in COMMANDS:
    try:
        _mod = importlib.import_module(f"plateocr.commands.{_module}")
    except ModuleNotFoundError as _e:
        if _e.name != f"plateocr.commands.{_module}":
            raise
        continue  # not built yet
    app.command(_name, help=_mod.__doc__)(_mod.run)


def main() -> None:
    """Run the CLI; exits through SystemExit like any Typer app (safe to call in-process)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        app()
    except PlateOCRError as e:
        typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)


def console() -> None:
    """The installed `plateocr` script and `python -m plateocr`: main() with a fast exit.

    Only here, never in main(): os._exit inside a caller's process (a test session, a notebook)
    would end that process on the spot.
    """
    try:
        main()
    except SystemExit as done:
        _exit(done.code)


def _exit(code) -> None:
    """Exit with `code`. After TensorFlow was loaded, skip the interpreter's teardown of its
    thousands of modules (~0.5-1 s, a fifth of a cold `plateocr predict`): every command has
    closed its files and sessions by now, so only the standard streams need flushing."""
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
