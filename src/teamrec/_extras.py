"""Optional parts of teamrec, installed as extras, and the one-line hint when one is missing.

The library itself needs only its core dependencies; the HTTP service, the report's plots,
Slack, Spark and PostgreSQL are extras (``pip install 'teamrec[service]'``). Code that needs
an extra calls :func:`require` first, so a missing package is a :class:`MissingExtraError`
naming the extra to install (the CLI prints it as one line, exit status 2), never an
``ImportError`` traceback from deep inside.
"""

from __future__ import annotations

import importlib.util

from teamrec.errors import MissingExtraError

#: extra -> the modules it provides (what :func:`require` checks).
EXTRAS: dict[str, tuple[str, ...]] = {
    "service": ("fastapi", "uvicorn", "swagger_ui_bundle"),
    "report": ("matplotlib",),
    "slack": ("slack_bolt", "slack_sdk"),
    "spark": ("pyspark",),
    "postgres": ("psycopg", "psycopg_pool"),
}


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` unless every module of ``extra`` is installed.

    ``what`` names the feature for the message: ``"teamrec serve"`` gives
    ``teamrec serve needs the service extra: pip install 'teamrec[service]'``.
    """
    absent = missing(extra)
    if absent:
        raise MissingExtraError(
            f"{what} needs the {extra} extra: pip install 'teamrec[{extra}]' (missing: {', '.join(absent)})"
        )
