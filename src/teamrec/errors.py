"""The exception tree of teamrec.

Every error teamrec raises on purpose derives from :class:`TeamrecError`, so a caller
(the CLI, the HTTP service, a Spark job) can tell "the input or the request is wrong"
from "teamrec has a bug"::

    TeamrecError
    ├── DataError            bad input data: names the file, the line and the field
    ├── ConfigError          bad settings or algorithm parameters
    ├── UnknownIdError       a user, item or team id the model has never seen (also a KeyError)
    ├── NotFittedError       a model used before ``fit`` or ``load``
    ├── ModelTooLargeError   a model that would not fit in memory for this data
    ├── UnsupportedError     an operation this algorithm does not offer (e.g. similar_users)
    ├── AccessDeniedError    a key used outside its team, or a private item asked for by a non-member
    └── MissingExtraError    an optional part (an extra such as ``teamrec[service]``) not installed

The CLI maps each to a one-line message and exit status 2; the service maps them to 4xx JSON.
"""

from __future__ import annotations


class TeamrecError(Exception):
    """Base class of every error teamrec raises on purpose."""


def one_line(text: str) -> str:
    """``text`` as one line: line breaks and runs of spaces become one space, and the help
    links pydantic appends ("For further information visit https://errors.pydantic.dev/...")
    are dropped, so every message fits the one line the CLI prints and a log line holds."""
    kept = [part for part in text.splitlines() if not part.strip().startswith("For further information visit")]
    return " ".join(" ".join(kept).split())


class DataError(TeamrecError, ValueError):
    """Bad input data.

    The message names where the problem is: ``file``, the 1-based ``line`` of the file (header
    included) and the ``field`` (column) when they are known.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = one_line(reason)
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class ConfigError(TeamrecError, ValueError):
    """Bad settings, algorithm names or algorithm parameters."""


class UnknownIdError(TeamrecError, KeyError):
    """An id (user, item, team, algorithm) that is not known."""

    def __init__(self, kind: str, value: object, hint: str | None = None) -> None:
        self.kind = kind
        self.value = value
        msg = f"unknown {kind}: {value!r}"
        if hint:
            msg += f" ({hint})"
        self.message = msg
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would quote the message again
        return self.message


class NotFittedError(TeamrecError, RuntimeError):
    """A model used before it was fitted or loaded."""


class ModelTooLargeError(TeamrecError, MemoryError):
    """A model whose memory need exceeds the configured limit for this data."""


class UnsupportedError(TeamrecError, NotImplementedError):
    """An operation the chosen algorithm does not offer."""


class AccessDeniedError(TeamrecError, PermissionError):
    """A request outside what the caller may see (another team's data, a private item)."""


class MissingExtraError(TeamrecError, ImportError):
    """An optional part of teamrec whose extra is not installed; the message says what to install."""
