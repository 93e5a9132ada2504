"""Plate formats: which letters-and-digits shapes a user's plates follow, learned from their labels.

A format is a string with one class per character: ``L`` a letter (A-Z, a-z), ``N`` a digit
(0-9), ``?`` any character (what a label's other characters, such as ``-`` or ``Ä``, become;
such characters also fit an ``L`` or an ``N``). ``AB123CD`` follows ``LLNNNLL``, ``ABC123``
follows ``LLLNNN``. `plateocr train` counts the formats of the training split's labels into the
model directory's ``formats.json``; `predict`, `eval` and `export` read it (``--formats auto``,
the default) and choose, among the readings the model finds likely, the one that also looks
like a plate of yours (plateocr.inference.format_search).

formats.json (readable and editable; spaces inside a format are ignored, so ``"LL NNN LL"``
may be written for ``LLNNNLL``)::

    {
      "version": 1,
      "formats": {"LLNNNLL": 40, "LLLNNN": 35},   # format -> how many labels follow it
      "unseen": 0.05,                             # prior left for formats not listed
      "weight": 1.0                               # how strongly the prior counts
    }

A reading's prior is ``(1 - unseen) * share + unseen``, where ``share`` is the fraction of the
counts whose format the reading follows (0 for a format not listed); the reading kept is the
one with the highest ``log P(reading) + weight * log prior``. It is a prior, not a filter: a
confident reading of a format never seen still wins over a doubtful one that fits. To state
the formats of a country by hand, list them with any counts (equal counts: equally likely);
``weight`` 0 turns the prior off, a larger ``unseen`` trusts the model more.

No TensorFlow here.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from plateocr.errors import PlateOCRError

FORMATS_FILE = "formats.json"
FORMATS_VERSION = 1
LETTER, DIGIT, ANY = "L", "N", "?"
CLASSES = (LETTER, DIGIT, ANY)
DEFAULT_UNSEEN = 0.05
DEFAULT_WEIGHT = 1.0

# What `--formats` takes, for the commands' help.
FORMATS_HELP = (
    "auto: the model folder's formats.json (learned by `train` from your labels), when there; off: none; "
    "or a formats.json of your own. Prefers readings that follow your plates' formats "
    '(L letter, N digit, ? any, e.g. {"formats": {"LLNNNLL": 40, "LLLNNN": 35}}). \\[default: auto]'
)


def char_class(char: str) -> str:
    """L for a letter A-Z/a-z, N for a digit 0-9, ? for any other character."""
    if char.isascii() and char.isdigit():
        return DIGIT
    if char.isascii() and char.isalpha():
        return LETTER
    return ANY


def format_of(text: str) -> str:
    """The format a text follows: ``AB123CD`` -> ``LLNNNLL``."""
    return "".join(char_class(c) for c in text)


def fits(char: str, cls: str) -> bool:
    """Whether a character may stand where a format says `cls`: L takes letters, N digits, and
    either takes the characters that are neither; ? takes anything."""
    own = char_class(char)
    return cls == ANY or own == ANY or own == cls


def follows(text: str, fmt: str) -> bool:
    return len(text) == len(fmt) and all(fits(c, k) for c, k in zip(text, fmt))


def grouped(fmt: str) -> str:
    """``LLNNNLL`` -> ``LL NNN LL``, for people."""
    out = ""
    for i, k in enumerate(fmt):
        out += (" " if i and k != fmt[i - 1] else "") + k
    return out


@dataclass
class Formats:
    """Formats with their label counts, and how the prior built from them is weighed."""

    counts: dict[str, int]
    unseen: float = DEFAULT_UNSEEN
    weight: float = DEFAULT_WEIGHT
    learned_from: dict = field(default_factory=dict)
    source: str = ""  # where they were read from, for messages

    def __post_init__(self):
        for fmt, n in self.counts.items():
            if not fmt or set(fmt) - set(CLASSES):
                raise PlateOCRError(f"{self.source or 'formats'}: format {fmt!r} is not made of L, N and ?")
            if not isinstance(n, (int, float)) or isinstance(n, bool) or not math.isfinite(n) or n <= 0:
                raise PlateOCRError(f"{self.source or 'formats'}: format {fmt}: count {n!r} must be a positive number")
        if not 0.0 < self.unseen <= 1.0:
            raise PlateOCRError(f"{self.source or 'formats'}: unseen {self.unseen!r} must lie in (0, 1]")
        if not (self.weight >= 0.0 and math.isfinite(self.weight)):
            raise PlateOCRError(f"{self.source or 'formats'}: weight {self.weight!r} must be a finite 0 or more")

    # --- learning ---------------------------------------------------------------------------
    @classmethod
    def learn(cls, texts: Iterable[str], **learned_from) -> "Formats":
        """The formats of `texts` (empty ones skipped), most common first."""
        counts = Counter(format_of(t) for t in texts if t)
        n = sum(counts.values())
        return cls(dict(counts.most_common()), learned_from={"labels": n, **learned_from})

    @classmethod
    def from_labels_csv(cls, path: str | os.PathLike) -> "Formats":
        """The formats of a labels CSV's `text` column (files,text as `crop` writes it)."""
        path = Path(path)
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise PlateOCRError(f"{path}: cannot read labels ({e})") from None
        if rows and "text" not in rows[0]:
            raise PlateOCRError(f"{path}: no 'text' column")
        return cls.learn((r["text"] or "" for r in rows), source=str(path))

    # --- the prior --------------------------------------------------------------------------
    @property
    def total(self) -> float:
        return float(sum(self.counts.values()))

    def share(self, fmt: str) -> float:
        return self.counts[fmt] / self.total if self.total else 0.0

    def prior(self, text: str) -> float:
        """(1 - unseen) * the share of the formats `text` follows + unseen."""
        share = sum(self.share(f) for f in self.counts if follows(text, f))
        return (1.0 - self.unseen) * share + self.unseen

    # --- the file ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        doc = {
            "version": FORMATS_VERSION,
            "about": "L a letter, N a digit, ? any character; format -> how many labels follow it. "
            "prior = (1 - unseen) * share of the counts + unseen; weight scales its log. Edit freely.",
            "formats": {f: self.counts[f] for f in sorted(self.counts, key=lambda f: (-self.counts[f], f))},
            "unseen": self.unseen,
            "weight": self.weight,
        }
        if self.learned_from:
            doc["learned_from"] = self.learned_from
        return doc

    def write(self, path: str | os.PathLike) -> None:
        from plateocr.outputs import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, doc, source: str = "formats") -> "Formats":
        if not isinstance(doc, dict) or not isinstance(doc.get("formats"), dict):
            raise PlateOCRError(f'{source}: not a formats file (expected {{"formats": {{"LLNNN": 3, ...}}}})')
        counts: dict[str, int] = {}
        for fmt, n in doc["formats"].items():
            key = "".join(str(fmt).split()).upper()
            if key in counts:
                raise PlateOCRError(f"{source}: format {key} listed twice")
            counts[key] = n
        try:
            unseen = float(doc.get("unseen", DEFAULT_UNSEEN))
            weight = float(doc.get("weight", DEFAULT_WEIGHT))
        except (TypeError, ValueError) as e:
            raise PlateOCRError(f"{source}: unseen and weight must be numbers ({e})") from None
        learned = doc.get("learned_from") if isinstance(doc.get("learned_from"), dict) else {}
        return cls(counts, unseen, weight, learned, source)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Formats":
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PlateOCRError(f"{path}: formats file not found") from None
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise PlateOCRError(f"{path}: cannot read formats ({e})") from None
        return cls.from_dict(doc, str(path))

    def describe(self) -> str:
        shown = ", ".join(grouped(f) for f in list(self.counts)[:4])
        more = f" and {len(self.counts) - 4} more" if len(self.counts) > 4 else ""
        return f"{len(self.counts)} format(s): {shown}{more}" if self.counts else "no formats"


def resolve_formats(choice, model_dir: str | os.PathLike | None) -> Formats | None:
    """What `--formats` names: "auto" (the model folder's formats.json if there, else None),
    "off" or None (None), a Formats, or the path of a formats file."""
    if choice is None or isinstance(choice, Formats):
        return choice
    text = str(choice)
    if text == "off":
        return None
    if text == "auto":
        if model_dir is None:
            return None
        path = Path(model_dir) / FORMATS_FILE
        return Formats.read(path) if path.is_file() else None
    return Formats.read(choice)
