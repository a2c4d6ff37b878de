"""The ``teamrec`` command line: a thin layer over the library.

Each group of commands lives in its own module with a ``register(app)`` function. Errors that
teamrec raises on purpose (:class:`~teamrec.errors.TeamrecError`) become one line on stderr and
exit status 2; usage errors also exit 2; never a traceback for bad input.
"""

from __future__ import annotations

import importlib
import logging
import sys
from types import ModuleType

import typer

from teamrec.errors import TeamrecError, one_line

#: Command modules, each with ``register(app)``.
COMMAND_MODULES = ("data", "recommend", "evaluate", "serve", "slack", "experiment", "generate", "batch")

app = typer.Typer(
    name="teamrec",
    help="Recommendations for workplaces and communities: channels, items and people, per team.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"teamrec.cli.{_name}").register(app)


def _click_exception_modules() -> list[ModuleType]:
    """Where Click's exception classes live: recent Typer releases carry their own copy of
    Click (``typer._click``) beside, or instead of, the ``click`` package; a usage error may
    come from either."""
    modules = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue
    return modules


_CLICK = _click_exception_modules()
_EXIT = (typer.Exit, *(m.Exit for m in _CLICK if hasattr(m, "Exit")))
_ABORT = (typer.Abort, *(m.Abort for m in _CLICK if hasattr(m, "Abort")))
_USAGE = tuple(m.ClickException for m in _CLICK)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status (tests call this directly)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="teamrec", standalone_mode=False)
    except _EXIT as exc:
        return exc.exit_code
    except _ABORT:
        print("aborted", file=sys.stderr)
        return 1
    except _USAGE as exc:
        exc.show()
        return 2
    except TeamrecError as exc:
        print(f"teamrec: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:
        # The machine said no (a path that cannot be written, a full disk, a folder given as a
        # file): the user's to fix, so one line and exit 2, as for bad input.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"teamrec: error: {where}{one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
