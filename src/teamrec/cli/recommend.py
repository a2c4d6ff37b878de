"""Commands of this group are being written; see the issue tracker."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Register this module's commands on the app."""
