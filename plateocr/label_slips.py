"""Labels that look like typing slips: a letter O or I where the user's other plates have a
digit (or a 0 or 1 where they have a letter).

Many plate fonts draw O and 0, or I and 1, alike, and people labelling plates type one for the
other. A model fine-tuned on such labels learns the habit and starts reading zeros as O on
plates it had read right (measured on the real EU plates: docs/choices_measured.md). The formats
of the labels themselves tell the slips apart: `RKO99AN` follows `LLLNNLL`, which 3 of 108
labels follow, where `RK099AN` follows `LLNNNLL`, which 75 do.

A label is taken for a slip when swapping at most MAX_SWAPS of its O/0 and I/1 characters makes
it follow a format that at least MIN_RATIO times as many labels follow as its own (so at least
MIN_RATIO labels), and no other label of its own format has another character where it would be
swapped: `ABC1D23` beside `ABC1I23` shows a real series with a letter there (Brazil's Mercosur
plates), where three `RKO..` labels with an O and nothing else there show a habit. Rare formats
that no swap explains (a vanity plate, an old series) are left alone.

No TensorFlow here.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from plateocr.formats import format_of

# The pairs people type for each other; model confusions such as 8/B or 5/S are not label slips.
SWAPS = {"O": "0", "o": "0", "I": "1", "i": "1", "0": "O", "1": "I"}
MAX_SWAPS = 2
MIN_RATIO = 10


@dataclass(frozen=True)
class LabelSlip:
    """A label, what it most likely meant, and the format counts behind the guess."""

    text: str
    suggested: str
    own_format: str
    own_count: int
    suggested_format: str
    suggested_count: int


def swapped(char: str, lower: bool) -> str:
    """The character typed for `char` by mistake; a letter in the label's case."""
    other = SWAPS[char]
    return other.lower() if lower else other


def find_slips(texts: Iterable[str]) -> dict[str, LabelSlip]:
    """The labels among `texts` that look like slips, keyed by label. The format counts are taken
    over all of `texts` (every split: a slip is a property of the labelling, not of a split)."""
    texts = [t for t in texts if t]
    counts = Counter(format_of(t) for t in texts)
    # per format, the positions where some label has a character no swap would change
    plain_at: dict[str, set[int]] = {}
    for t in dict.fromkeys(texts):
        plain_at.setdefault(format_of(t), set()).update(i for i, c in enumerate(t) if c not in SWAPS)
    slips: dict[str, LabelSlip] = {}
    for text in dict.fromkeys(texts):
        own = format_of(text)
        lower = text == text.lower() and text != text.upper()  # a label written in lower case
        best = None
        swappable = [i for i, c in enumerate(text) if c in SWAPS]
        for k in range(1, min(MAX_SWAPS, len(swappable)) + 1):
            for positions in itertools.combinations(swappable, k):
                if plain_at[own].intersection(positions):
                    continue  # a real series: others of this format have other characters there
                chars = list(text)
                for i in positions:
                    chars[i] = swapped(chars[i], lower)
                candidate = "".join(chars)
                n = counts[format_of(candidate)]
                if n >= MIN_RATIO * counts[own] and (best is None or n > best[1]):
                    best = (candidate, n)
        if best is not None:
            slips[text] = LabelSlip(text, best[0], own, counts[own], format_of(best[0]), best[1])
    return slips
