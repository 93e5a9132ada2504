"""cli_params: plain option values converted without pydantic, exactly as typer converts them."""

from pathlib import Path
from typing import Optional

import pytest
import typer
from typer.core import TyperCommand
from typer.testing import CliRunner

from plateocr.cli_params import LightParams


class LightCommand(LightParams, TyperCommand):
    pass


def make_app(cls, seen: list) -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command(cls=cls)
    def run(
        path: Path = typer.Argument(..., help="A path."),
        count: int = typer.Option(3, "--count", min=1, max=10),
        ratio: float = typer.Option(0.5, "--ratio"),
        name: str = typer.Option("x", "--name"),
        out: Path = typer.Option(Path("out"), "--out"),
        maybe: Optional[int] = typer.Option(None, "--maybe"),
        clamped: int = typer.Option(5, "--clamped", min=0, max=9, clamp=True),
        must_exist: Optional[Path] = typer.Option(None, "--must-exist", exists=True),
        flag: bool = typer.Option(False, "--flag/--no-flag"),
    ) -> None:
        values = {k: (v, type(v)) for k, v in locals().items() if k != "seen"}
        seen.append(values)

    return app


CASES = [
    ["p"],
    ["p", "--count", "7", "--ratio", "2", "--name", "a b", "--out", "o/x", "--maybe", "-4", "--flag"],
    ["p", "--ratio", "1e-3", "--count", "+2", "--ratio", ".5"],
    ["p", "--count", "0"],  # out of range: typer's error
    ["p", "--count", "11"],
    ["p", "--count", "2.5"],
    ["p", "--count", "abc"],
    ["p", "--ratio", "nan"],
    ["p", "--ratio", "x1"],
    ["p", "--clamped", "42"],  # clamped by typer
    ["p", "--must-exist", "/nonexistent/file"],
    ["p", "--must-exist", "."],
    ["p", "--name", ""],
    [],  # missing argument
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c) or "none" for c in CASES])
def test_values_types_and_errors_are_typers(argv):
    runner = CliRunner()
    light_seen, typer_seen = [], []
    light = runner.invoke(make_app(LightCommand, light_seen), argv)
    plain = runner.invoke(make_app(TyperCommand, typer_seen), argv)
    assert (light.exit_code, light.output) == (plain.exit_code, plain.output)
    assert repr(light_seen) == repr(typer_seen)  # repr: nan == nan


def test_plain_values_are_converted_without_building_typer_adapters():
    command = typer.main.get_command(make_app(LightCommand, []))
    runtime = {p.name: type(p._runtime_param).__name__ for p in command.params if hasattr(p, "_runtime_param")}
    if not runtime:
        pytest.skip("this typer converts values without per-parameter adapters")
    plain = {"path", "count", "ratio", "name", "out", "maybe", "flag"}
    assert {n for n, kind in runtime.items() if kind == "_Direct"} == plain
    assert runtime["clamped"] == runtime["must_exist"] == "NoneType"  # left to typer
