"""The character set: ids for characters, with a null code that pads labels to a fixed length.

File format (as the attention OCR reference reads it): one ``id<TAB>char`` line per class,
ids 0..N-1, the padding character written ``<nul>`` and a space written ``<space>``.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from plateocr.defaults import BASE_ALPHABET, NULL_CHAR, NULL_CODE
from plateocr.errors import PlateOCRError
from plateocr.outputs import write_text_atomic

_SPACE = "<space>"


def text_problem(text: str) -> str | None:
    """Why a label cannot be a plate's text, or None: a control character or a line separator
    (form feed, U+0085, U+2028, a quoted newline...) is no plate character, and would break the
    charset file's lines."""
    for c in text:
        if unicodedata.category(c) in ("Cc", "Zl", "Zp"):
            return f"text {text!r} holds U+{ord(c):04X}, a line break or control character"
    return None


class UnknownCharacterError(PlateOCRError):
    def __init__(self, text: str, chars: Sequence[str]):
        self.text = text
        self.chars = list(chars)
        shown = ", ".join(repr(c) for c in self.chars)
        super().__init__(f"text {text!r} has characters not in the charset: {shown}")


@dataclass(frozen=True)
class Charset:
    """Maps characters to ids. ``chars[i]`` is the character of id i; ``chars[null_code]`` is None."""

    chars: tuple[str | None, ...]
    null_code: int = NULL_CODE

    def __post_init__(self):
        if not 0 <= self.null_code < len(self.chars) or self.chars[self.null_code] is not None:
            raise ValueError("the null code must index the padding entry (None) of the charset")
        seen = [c for c in self.chars if c is not None]
        if len(seen) != len(set(seen)):
            raise ValueError("a charset lists each character once")
        object.__setattr__(self, "_ids", {c: i for i, c in enumerate(self.chars) if c is not None})

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_texts(cls, texts: Iterable[str], base: str = BASE_ALPHABET) -> "Charset":
        """The default charset: <nul>, then `base` in order, then any other characters sorted.

        Starting from a fixed alphabet keeps ids stable across datasets, so a model fine-tuned
        on one dataset keeps the output layer learnt on another.
        """
        extra = sorted({c for t in texts for c in t} - set(base))
        return cls(chars=(None, *base, *extra), null_code=0)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Charset":
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise PlateOCRError(f"{path}: charset file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise PlateOCRError(f"{path}: cannot read charset file ({e})") from None
        entries: dict[int, str | None] = {}
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            idx, sep, char = line.partition("\t")
            if not sep:
                # Upstream charsets also use a single space as separator.
                idx, sep, char = line.partition(" ")
            try:
                i = int(idx)
            except ValueError:
                raise PlateOCRError(f"{path} line {lineno}: expected 'id<TAB>char', got {line!r}") from None
            if not char:
                raise PlateOCRError(f"{path} line {lineno}: id {i} has no character")
            if i in entries:
                raise PlateOCRError(f"{path} line {lineno}: id {i} listed twice")
            entries[i] = None if char == NULL_CHAR else (" " if char == _SPACE else char)
        if not entries:
            raise PlateOCRError(f"{path}: charset file is empty")
        if sorted(entries) != list(range(len(entries))):
            raise PlateOCRError(f"{path}: ids must run 0..{len(entries) - 1} without gaps")
        nulls = [i for i, c in entries.items() if c is None]
        if len(nulls) != 1:
            raise PlateOCRError(f"{path}: needs exactly one {NULL_CHAR} padding line, found {len(nulls)}")
        chars = tuple(entries[i] for i in range(len(entries)))
        try:
            return cls(chars=chars, null_code=nulls[0])
        except ValueError as e:
            raise PlateOCRError(f"{path}: {e}") from None

    def write(self, path: str | os.PathLike) -> None:
        """Write the charset file; refuses a character that would not read back (text_problem)."""
        for c in self.chars:
            if c is not None and (not c or text_problem(c)):
                raise PlateOCRError(f"{path}: cannot write the character {c!r}: it would not read back")
        lines = []
        for i, c in enumerate(self.chars):
            shown = NULL_CHAR if c is None else (_SPACE if c == " " else c)
            lines.append(f"{i}\t{shown}\n")
        write_text_atomic(path, "".join(lines))

    # --- use ----------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self._ids

    def id_of(self, char: str) -> int:
        return self._ids[char]

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` that have no id, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._ids))

    def encode(self, text: str) -> list[int]:
        """Ids of `text`, unpadded. Raises UnknownCharacterError naming the missing characters."""
        missing = self.unknown(text)
        if missing:
            raise UnknownCharacterError(text, missing)
        return [self._ids[c] for c in text]

    def pad(self, ids: Sequence[int], length: int) -> list[int]:
        if len(ids) > length:
            raise ValueError(f"{len(ids)} ids do not fit in max length {length}")
        return list(ids) + [self.null_code] * (length - len(ids))

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids`, stopping at the first null (as the model's greedy decoding does)."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.null_code:
                break
            out.append(self.chars[i])
        return "".join(out)
