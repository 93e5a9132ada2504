"""Where plateocr keeps what it can rebuild (the inference graphs, plateocr.inference.graph_cache,
and the TFLite models the reader's LiteRT backend runs, plateocr.inference.tflite_store): the
user's cache directory, never the installed package. (A TFLite model is also stored beside its
checkpoint in a writable model folder, so the folder starts warm wherever it is copied.)

$XDG_CACHE_HOME/plateocr, else ~/.cache/plateocr (Linux and other Unix systems);
~/Library/Caches/plateocr (macOS); %LOCALAPPDATA%\\plateocr\\Cache (Windows). Deleting it
loses nothing but a faster start.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_cache_dir() -> Path:
    """plateocr's folder in the user's cache directory (not created here)."""
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return (Path(local) if local else Path.home() / "AppData" / "Local") / "plateocr" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "plateocr"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec: a relative path in the variable is invalid and is to be ignored.
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "plateocr"
