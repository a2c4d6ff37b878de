"""Reasons as data, rendered per surface.

A reason is a plain dict (JSON-ready, in ``Result.details["why"]``) that says what it rests on::

    {"kind": "because_in", "items": [{"id": "C12", "name": "ml"}, ...], "item_kind": "channel"}
    {"kind": "people_like_you", "people": [{"id": "U3", "name": "Ann"}, ...], "item_kind": ...}
    {"kind": "overlap", "items": [query, other], "counts": {"common": 8, "query_size": 12}, ...}
    {"kind": "shared", "items": [...first three...], "counts": {"shared": 5}, "item_kind": ...}
    {"kind": "popular"} / {"kind": "new_here"}

:func:`render` turns one into words for a surface: ``"web"`` (``#ml``, the page's and API's
words), ``"plain"`` (the same words without markup; the CLI) and ``"slack"`` (channels as
Slack mentions, ``<#C123>``, which Slack shows as a link with the channel's current name).
"""

from __future__ import annotations

from typing import Any, Literal

Surface = Literal["web", "plain", "slack"]


def _item(ref: dict[str, Any], item_kind: str, surface: Surface) -> str:
    name = str(ref.get("name", ref.get("id", "")))
    if item_kind != "channel":
        return name
    if surface == "slack":
        return f"<#{ref['id']}>"
    return name if name.startswith("#") else f"#{name}"


def _person(ref: dict[str, Any], surface: Surface) -> str:
    return f"<@{ref['id']}>" if surface == "slack" else str(ref.get("name", ref.get("id", "")))


def render(reason: dict[str, Any] | None, surface: Surface = "web") -> str | None:
    """The reason in words for ``surface`` (None for no reason)."""
    if not reason:
        return None
    kind = reason.get("kind")
    item_kind = reason.get("item_kind", "item")
    channels = item_kind == "channel"
    items = [_item(r, item_kind, surface) for r in reason.get("items", [])]
    counts = reason.get("counts", {})
    if kind == "because_in":
        return ("because you are in " if channels else "similar to what you have: ") + ", ".join(items)
    if kind == "people_like_you":
        people = [_person(p, surface) for p in reason.get("people", [])]
        return ("people like you are here: " if channels else "people like you have it: ") + ", ".join(people)
    if kind == "overlap":
        query, other = items
        if channels:
            return f"{counts['common']} of the {counts['query_size']} people in {query} are also in {other}"
        return f"{counts['common']} of the {counts['query_size']} people with {query} also have {other}"
    if kind == "shared":
        n = int(counts["shared"])
        noun = "channel" if channels else "item"
        text = f"you share {n} {noun}" + ("" if n == 1 else "s")
        if items:
            text += ": " + ", ".join(items) + (" ..." if n > len(items) else "")
        return text
    if kind == "popular":
        return "popular in this team"
    if kind == "new_here":
        return "new here: popular in this team"
    return None
