"""The CLI entry points: main() is safe in-process; the console script exits fast."""

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_main_raises_systemexit_even_after_tensorflow_loaded():
    # A fast os._exit in main() would end the caller's process (a test session, a notebook).
    out = _run(
        """
        import sys
        import tensorflow
        from plateocr.cli import main
        sys.argv = ["plateocr", "--help"]
        try:
            main()
        except SystemExit as e:
            print("survived", e.code)
        """
    )
    assert "survived 0" in out.stdout, out.stderr[-1000:]


def test_console_script_reports_errors_with_exit_code():
    out = subprocess.run(
        [sys.executable, "-m", "plateocr", "crop", "/nonexistent/annot.csv"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    # exactly one line: no progress-bar residue when stderr is not a terminal
    assert out.stderr.startswith("error: ") and "/nonexistent/annot.csv" in out.stderr
    assert len(out.stderr.splitlines()) == 1


def _loaded_after(argv: list[str], env: dict | None = None) -> tuple[set[str], str]:
    """The modules a `plateocr ARGV` run imported, and what it printed."""
    code = f"""
        import sys
        sys.argv = ["plateocr", *{argv!r}]
        from plateocr.cli import main
        try:
            main()
        except SystemExit:
            pass
        print("MODULES", " ".join(sorted(sys.modules)))
        """
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    printed, _, modules = out.stdout.rpartition("MODULES ")
    assert modules, out.stderr[-2000:]
    return set(modules.split()), printed + out.stderr


# What `plateocr crop` and the root --help must not load: TensorFlow and the model code (seconds),
# OpenCV (only once a command works on images).
HEAVY = ("tensorflow", "tf_keras", "cv2", "plateocr.model", "plateocr.inference", "plateocr.training")


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}


def test_importing_the_cli_loads_no_command():
    out = _run("import sys, plateocr.cli; print(' '.join(sorted(sys.modules)))")
    modules = set(out.stdout.split())
    assert "plateocr.cli" in modules, out.stderr[-1000:]
    assert not {m for m in modules if m.startswith("plateocr.commands.")}
    assert not _heavy(modules)


def test_crop_help_and_option_parsing_load_only_the_crop_command():
    modules, printed = _loaded_after(["crop", "--help"])
    assert "Usage: plateocr crop" in printed
    assert {m for m in modules if m.startswith("plateocr.commands.")} <= {
        "plateocr.commands.crop",
        "plateocr.commands.progress",
    }
    assert not _heavy(modules)
    # Every option parsed (the run then stops at the missing CSV, before cropping anything).
    modules, printed = _loaded_after(
        [
            "crop",
            "/nonexistent/annot.csv",
            "--workers",
            "2",
            "--margin",
            "0.1",
            "--size",
            "32x128",
            "--out",
            "o",
            "--force",
        ]
    )
    assert "/nonexistent/annot.csv" in printed
    assert not _heavy(modules - {"cv2"} - {m for m in modules if m.startswith("cv2.")})


def test_root_help_lists_every_command_with_its_one_line_help_importing_none():
    from plateocr.cli import COMMANDS

    modules, printed = _loaded_after(["--help"], env={"COLUMNS": "250"})
    assert not {m for m in modules if m.startswith("plateocr.commands.")}
    for name, module in COMMANDS.items():
        doc = importlib.import_module(f"plateocr.commands.{module}").__doc__
        first_words = " ".join(doc.split()[:6])
        assert any(name in line and first_words in " ".join(line.split()) for line in printed.splitlines()), name


def test_a_mistyped_command_is_named_with_a_suggestion():
    out = subprocess.run([sys.executable, "-m", "plateocr", "crp"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "No such command 'crp'" in out.stderr and "'crop'" in out.stderr


def test_choice_options_are_checked_while_parsing_and_reach_training_as_plain_strings(monkeypatch):
    import plateocr.training.loop
    from typer.testing import CliRunner

    from plateocr.cli import app

    out = CliRunner().invoke(app, ["train", "--optimizer", "adamw"])
    assert out.exit_code == 2 and "'adamw' is not one of" in out.output and "'rmsprop'" in out.output
    given = {}

    def fake_train(data, model_dir, options, **kwargs):
        given.update(options)
        raise SystemExit(0)

    monkeypatch.setattr(plateocr.training.loop, "train", fake_train)
    out = CliRunner().invoke(app, ["train", "--optimizer", "sgd", "--schedule", "cosine", "--train-layers", "top"])
    assert out.exit_code == 0, out.output
    chosen = (given["optimizer"], given["schedule"], given["train_layers"])
    assert chosen == ("sgd", "cosine", "top") and all(type(v) is str for v in chosen)


def test_renamed_options_still_work_with_a_note(monkeypatch, tmp_path):
    """Old spellings users may have in scripts: train --checkpoint (now --init-from, as --checkpoint
    names the checkpoint to read in eval, predict and export), train --save-every SECONDS (now
    --save-minutes, as --time-limit is minutes), demo --data (now --annotations, as in predict,
    since --data names records in train and eval), predict --output (now --out, as elsewhere)."""
    import plateocr.demo
    import plateocr.training.loop
    from typer.testing import CliRunner

    from plateocr.cli import app

    calls = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        raise SystemExit(0)

    monkeypatch.setattr(plateocr.training.loop, "train", fake)
    monkeypatch.setattr(plateocr.demo, "run_demo", fake)
    runner = CliRunner()
    new = runner.invoke(app, ["train", "--init-from", "other", "--save-minutes", "2"])
    old = runner.invoke(app, ["train", "--checkpoint", "other", "--save-every", "120"])
    assert new.exit_code == old.exit_code == 0, old.output
    (_, new_options), new_kwargs = calls[0][0][1:], calls[0][1]
    (_, old_options), old_kwargs = calls[1][0][1:], calls[1][1]
    assert new_kwargs["checkpoint"] == old_kwargs["checkpoint"] == Path("other")
    assert new_options["save_every_secs"] == old_options["save_every_secs"] == 120
    assert "note:" not in new.output
    assert "note: --checkpoint is now --init-from" in old.output
    assert "note: --save-every SECONDS is now --save-minutes MINUTES" in old.output
    both = runner.invoke(app, ["train", "--init-from", "a", "--checkpoint", "b"])
    assert both.exit_code == 1 and "--checkpoint is the old name of --init-from" in str(both.exception)

    old = runner.invoke(app, ["demo", "--data", "annot.csv"])
    assert old.exit_code == 0 and calls[-1][0][0] == Path("annot.csv")
    assert "note: --data is now --annotations" in old.output

    monkeypatch.chdir(tmp_path)
    old = runner.invoke(app, ["predict", "--output", "rows.csv"])  # then stops: no images given
    assert "note: --output is now --out" in old.output and "no images given" in str(old.exception)


def test_train_help_gives_fine_tunings_own_defaults():
    """--learning-rate and --synthetic-share default otherwise when starting from a model (the
    base model, --init-from) than --from-scratch: --help says both."""
    from typer.testing import CliRunner

    from plateocr.cli import app
    from plateocr.training.options import FINE_TUNE_LEARNING_RATE, FINE_TUNE_SYNTHETIC_SHARE, TrainOptions

    out = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "400"}, terminal_width=400)
    assert out.exit_code == 0
    text = " ".join(out.output.replace("│", " ").split())
    for option, tuned, scratch in (
        ("learning rate", FINE_TUNE_LEARNING_RATE, TrainOptions().learning_rate),
        ("synthetic share", FINE_TUNE_SYNTHETIC_SHARE, TrainOptions().synthetic_share),
    ):
        assert f"[default: {tuned:g} from the base model or --init-from" in text, option
        assert f"{scratch:g} --from-scratch]" in text, option
