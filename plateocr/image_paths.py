"""Turning `predict`'s arguments into a list of image files: files, globs, directories and `-` (stdin)."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Iterable, NamedTuple, TextIO

from plateocr.errors import PlateOCRError, path_problem

# What OpenCV decodes; a glob or a directory yields only these (crops/ also holds labels.csv etc.).
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pbm", ".pgm", ".ppm", ".jp2"}
)


def is_image_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


class Unmatched(NamedTuple):
    """A name that gave no image: shown as an error row where it stood among the arguments."""

    name: str
    reason: str
    before: int  # how many image paths the arguments before it gave


def expand_image_args(args: Iterable[str], stdin: TextIO | None = None) -> tuple[list[Path], list[Unmatched]]:
    """The image paths named by `args`, in order, each once, and the names that gave none.

    - a file is taken as given (even without an image extension: the user named it, so a
      non-image gets an error row later rather than being silently dropped);
    - a directory gives the image files directly inside it, sorted by name;
    - a glob (for shells that do not expand them, e.g. Windows cmd or quoted patterns) gives
      the matching image files, sorted; `**` recurses;
    - `-` reads one path per line from `stdin` (blank lines and `#` comments skipped), each
      expanded by the same rules.
    A name that gives nothing is returned as Unmatched so the caller reports it and goes on.
    """
    out: list[Path] = []
    missing: list[Unmatched] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.normpath(str(p))
        if key not in seen:
            seen.add(key)
            out.append(p)

    def expand(arg: str, where: str) -> None:
        path = Path(arg).expanduser()
        if path.is_dir():
            images = [p for p in sorted(path.iterdir()) if p.is_file() and is_image_name(p)]
            if not images:
                missing.append(Unmatched(arg, f"{where}no image files in this directory", len(out)))
            for p in images:
                add(p)
        elif path.exists():
            add(path)
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(os.path.expanduser(arg), recursive=True))
            images = [Path(m) for m in matches if Path(m).is_file() and is_image_name(m)]
            if not images:
                missing.append(Unmatched(arg, f"{where}no image files match this pattern", len(out)))
            for p in images:
                add(p)
        else:  # say why: a symbolic link loop is not a missing file
            reason = path_problem(path) or "no such file or directory"
            missing.append(Unmatched(arg, f"{where}{reason}", len(out)))

    for arg in args:
        if arg == "-":
            if stdin is None:
                raise PlateOCRError("-: no standard input to read paths from")
            for lineno, line in enumerate(stdin, 1):
                name = line.strip()
                if name and not name.startswith("#"):
                    expand(name, f"stdin line {lineno}: ")
        else:
            expand(arg, "")
    return out, missing
