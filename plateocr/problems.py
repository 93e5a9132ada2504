"""Rows a stage skipped, with the reason: reported as a table and written as a CSV report."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from plateocr.outputs import write_csv_atomic


@dataclass(frozen=True)
class Problem:
    source: str  # the file the row came from (annotation CSV, labels CSV)
    line: int | None  # 1-based line in `source` (header is line 1), None for file-level problems
    image: str  # the photo or crop the row names ('' if unknown)
    reason: str  # short, specific: "box lies outside the 640x480 photo"

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" if self.line is not None else self.source
        img = f" ({self.image})" if self.image else ""
        return f"{where}{img}: {self.reason}"


def write_report(problems: list[Problem], path: str | os.PathLike) -> None:
    rows = ([p.source, "" if p.line is None else p.line, p.image, p.reason] for p in problems)
    write_csv_atomic(path, ["source", "line", "image", "reason"], rows)


def summarise(problems: list[Problem]) -> list[tuple[str, int]]:
    """Reasons grouped by kind (text before any ':' detail), most frequent first."""
    kinds = Counter(p.reason.split(":")[0] for p in problems)
    return kinds.most_common()
