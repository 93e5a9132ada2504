"""The `plateocr` command: one Typer app, one module per subcommand in plateocr.commands.

Only the invoked command's module is imported: a `plateocr crop` never loads the model code or
the other commands' options, and `plateocr --help` lists the commands from their modules'
docstrings, importing none.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator, MutableMapping

import typer
from typer.core import TyperCommand, TyperGroup

from plateocr.errors import PlateOCRError

# command name -> module in plateocr.commands. Each module defines `run`, a Typer command
# function; its docstring is the command's help.
COMMANDS = {
    "synth": "synth",
    "crop": "crop",
    "tfrecords": "tfrecords",
    "train": "train",
    "train-detector": "train_detector",
    "eval": "eval",
    "predict": "predict",
    "export": "export",
    "demo": "demo",
}


def load_command(name: str, module: str) -> TyperCommand:
    """The click command for plateocr.commands.<module>, built as `app.command` would."""
    mod = importlib.import_module(f"plateocr.commands.{module}")
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command(name, help=mod.__doc__)(mod.run)
    return typer.main.get_command(single)


def command_summary(name: str, module: str) -> TyperCommand:
    """A stand-in for listing plateocr.commands.<module> in `plateocr --help`: its help only,
    read from the module's source without importing it (and what it imports)."""
    spec = importlib.util.find_spec(f"plateocr.commands.{module}")
    with open(spec.origin, encoding="utf-8") as fh:
        doc = ast.get_docstring(ast.parse(fh.read()))
    return TyperCommand(name=name, help=doc)


class _LazyCommands(MutableMapping):
    """Command name -> click command, importing a command's module on first lookup. Names (for
    typo suggestions, `in`) need no import."""

    def __init__(self, modules: dict[str, str]):
        self._modules = dict(modules)
        self._loaded: dict = {}

    def __getitem__(self, name: str):
        if name not in self._loaded:
            self._loaded[name] = load_command(name, self._modules[name])  # KeyError: no such command
        return self._loaded[name]

    def __setitem__(self, name: str, command) -> None:
        self._modules.setdefault(name, "")
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._modules[name]
        self._loaded.pop(name, None)

    def __contains__(self, name) -> bool:
        return name in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def is_loaded(self, name: str) -> bool:
        return name in self._loaded


class LazyGroup(TyperGroup):
    """The root group, with COMMANDS loaded on demand (see _LazyCommands)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        lazy = _LazyCommands(COMMANDS)
        for name, command in self.commands.items():  # any registered with @app.command
            lazy[name] = command
        self.commands = lazy
        self._listing = False

    def format_help(self, ctx, formatter) -> None:
        self._listing = True  # the command list needs only each command's help
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def list_commands(self, ctx) -> list[str]:
        return list(self.commands)  # names only: typer's would load every command

    def get_command(self, ctx, name: str):
        if self._listing and name in COMMANDS and not self.commands.is_loaded(name):
            return command_summary(name, COMMANDS[name])
        return super().get_command(ctx, name)


app = typer.Typer(
    cls=LazyGroup,
    help="Number-plate OCR: crop plates, write FSNS records, train, evaluate and predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    # A callback keeps `plateocr <command>` a group (the commands are not registered with the app).
    pass


def main() -> None:
    """Run the CLI; exits through SystemExit like any Typer app (safe to call in-process)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        app()
    except PlateOCRError as e:
        typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
        sys.exit(e.exit_code)
    except OSError as e:  # a disk full or a permission not caught nearer: one line, not a traceback
        where = f"{e.filename}: " if e.filename else ""
        typer.secho(f"error: {where}{e.strerror or e}", err=True, fg=typer.colors.RED)
        sys.exit(1)
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
