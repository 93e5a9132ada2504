"""The progress bar every command shows on stderr while it works."""

from __future__ import annotations

from rich.console import Console
from rich.progress import Progress


def progress_bar(*columns, auto_refresh: bool = True, console: Console | None = None) -> Progress:
    """A transient bar on stderr, shown only on a terminal: logs, pipes and CI get no bar
    frames or stray blank lines. auto_refresh=False for stages that fork worker processes while
    the bar is up (no refresh thread to copy into them)."""
    console = console or Console(stderr=True)
    return Progress(
        *columns, console=console, transient=True, auto_refresh=auto_refresh, disable=not console.is_terminal
    )
