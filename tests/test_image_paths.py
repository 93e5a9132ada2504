"""predict's arguments -> image files: files, folders, globs, stdin, and what gives nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from plateocr.errors import PlateOCRError
from plateocr.image_paths import expand_image_args


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in (
        "crops/b.png",
        "crops/a.PNG",
        "crops/c.jpg",
        "crops/labels.csv",
        "crops/crop.json",
        "crops/sub/d.png",
        "other/e.jpeg",
        "notes.txt",
    ):
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_bytes(b"x")
    return tmp_path


def names(paths):
    return [p.as_posix() for p in paths]


def test_folders_and_globs_give_only_images_sorted(tree):
    paths, missing = expand_image_args(["crops"])
    assert names(paths) == ["crops/a.PNG", "crops/b.png", "crops/c.jpg"] and missing == []
    paths, _ = expand_image_args(["crops/*"])  # as a shell that does not expand passes it
    assert names(paths) == ["crops/a.PNG", "crops/b.png", "crops/c.jpg"]
    paths, _ = expand_image_args(["crops/**/*.png"])
    assert names(paths) == ["crops/b.png", "crops/sub/d.png"]


def test_named_files_are_kept_in_order_once_even_without_an_image_extension(tree):
    paths, missing = expand_image_args(["other/e.jpeg", "notes.txt", "crops/b.png", "crops", "./crops/b.png"])
    assert names(paths) == ["other/e.jpeg", "notes.txt", "crops/b.png", "crops/a.PNG", "crops/c.jpg"]
    assert missing == []


def test_names_that_give_nothing_are_reported_not_fatal(tree):
    paths, missing = expand_image_args(["nope.png", "crops/*.gif", "crops/sub/../../other", "crops/b.png"])
    assert names(paths) == ["crops/sub/../../other/e.jpeg", "crops/b.png"]
    assert missing == [
        ("nope.png", "no such file or directory", 0),
        ("crops/*.gif", "no image files match this pattern", 0),
    ]
    (tree / "empty").mkdir()
    assert expand_image_args(["empty"]) == ([], [("empty", "no image files in this directory", 0)])


def test_dash_reads_paths_from_stdin(tree):
    stdin = io.StringIO("crops/c.jpg\n\n# a comment\nother\nmissing.png\n")
    paths, missing = expand_image_args(["crops/b.png", "-"], stdin)
    assert names(paths) == ["crops/b.png", "crops/c.jpg", "other/e.jpeg"]
    assert missing == [("missing.png", "stdin line 5: no such file or directory", 3)]  # after 3 paths
    with pytest.raises(PlateOCRError, match="standard input"):
        expand_image_args(["-"], None)


def test_a_symbolic_link_loop_is_named_as_such(tree):
    Path("loop.png").symlink_to("loop.png")
    assert expand_image_args(["loop.png"]) == ([], [("loop.png", "a symbolic link loop", 0)])
