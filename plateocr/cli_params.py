"""Command-line values (str, int, float, Path, flags) converted without pydantic.

Typer >= 0.2x converts every parameter, defaults and unset options included, through a pydantic
TypeAdapter: importing pydantic and building the adapters costs ~0.3 s per run, more than the
rest of `plateocr crop`'s start-up. Our commands only take plain values, so the command classes
here (LightParams) give each such parameter a direct conversion. Anything it is not sure about (a value that does
not parse, a number out of range, options with path checks, lists) goes to typer's own
conversion, so errors read exactly as before. On a typer without adapters it does nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_UNSURE = object()
# Path options that make typer do more than Path(value); with any of them, typer converts.
_PATH_OPTIONS = ("exists", "resolve_path", "allow_dash", "writable", "path_type")


def _number(kind: type, info):
    pattern = _INT if kind is int else _FLOAT

    def convert(value):
        if isinstance(value, str):
            if not pattern.fullmatch(value):
                return _UNSURE
            value = kind(value)
        elif type(value) is int or type(value) is kind:
            value = kind(value)
        else:
            return _UNSURE
        if (info.min is not None and value < info.min) or (info.max is not None and value > info.max):
            return _UNSURE  # typer clamps or reports it
        return value

    return convert


def _str(value):
    return value if isinstance(value, str) else _UNSURE


def _path(value):
    if isinstance(value, str):
        value = Path(value)
    elif not isinstance(value, Path):
        return _UNSURE
    if not os.access(value, os.R_OK) and os.path.exists(value):
        return _UNSURE  # typer's `readable` check (on by default) reports it
    return value


def _bool(value):
    return value if isinstance(value, bool) else _UNSURE


def _converter(param):
    """The direct conversion for a typer parameter, or None to leave it to typer."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or param.nargs != 1 or param.multiple:
        return None
    info = descriptor.parameter_info
    kind = descriptor.annotation
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return None
    if kind in (int, float):
        return None if getattr(info, "clamp", False) else _number(kind, info)
    if kind is bool:
        return _bool
    if kind is str:
        return _str
    if kind is Path:
        if any(getattr(info, name, None) for name in _PATH_OPTIONS) or not (info.file_okay and info.dir_okay):
            return None
        return _path
    return None


class _Direct:
    """Stands in for typer's per-parameter RuntimeParam (its `coerce` contract)."""

    def __init__(self, convert):
        self.convert = convert

    def coerce(self, value, param, ctx):
        if value is None:
            return None
        converted = self.convert(value)
        if converted is _UNSURE:
            param._runtime_param = None  # typer builds its own conversion for this value
            return param.get_runtime_param().coerce(value, param=param, ctx=ctx)
        return converted


def lighten(params) -> None:
    """Give these typer parameters a direct conversion where they are plain (see the module
    docstring); the others keep typer's."""
    for param in params:
        if not (hasattr(param, "_runtime_param") and hasattr(param, "get_runtime_param")):
            continue  # a typer that converts without adapters
        convert = _converter(param)
        if convert is not None and param._runtime_param is None:
            param._runtime_param = _Direct(convert)


class LightParams:
    """Mixin for a typer command or group class: its parameters, --help included, lightened."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        lighten(self.params)

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            lighten([option])
        return option
