"""Messages fit for clients: the server's file paths taken out.

A data error names the file at fault, which is what an operator reading the log needs; a
client of the API (a retrain's failure in ``GET /model``, an error body) is told the file's
name only, never where the server keeps it.
"""

from __future__ import annotations

import re

# An absolute path's folders: /srv/data/ or C:\data\ (not a URL's //host/).
_FOLDERS = re.compile(r"(?<![\w.:/\\])(?:[A-Za-z]:)?[/\\](?:[^\s/\\'\",:;()\[\]]+[/\\])+")


def redact_paths(message: str) -> str:
    """``message`` with every absolute path cut down to its last part (the file's name)."""
    return _FOLDERS.sub("", message)
