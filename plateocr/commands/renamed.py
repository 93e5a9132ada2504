"""Options that were renamed: the old spelling still works, hidden from --help, with a one-line note."""

from __future__ import annotations

from plateocr.errors import PlateOCRError


def renamed(value, old_value, old: str, new: str, console, unset=None):
    """The value of an option renamed from `old` to `new`: `new`'s when given, else `old`'s
    (noted on `console`). Both given is an error."""
    if old_value is None:
        return value
    if value != unset:
        raise PlateOCRError(f"{old} is the old name of {new}: give {new} only")
    console.print(f"note: {old} is now {new}; the old name still works for now")
    return old_value
