"""The OAuth scopes each Web API method and event the app uses needs (Slack's reference).

``manifest.yml`` must ask for exactly the union of these over what the code calls and
subscribes to; a test reads the code's calls and the manifest and compares.
"""

from __future__ import annotations

#: Bot scopes per Web API method (public channels, and private ones for the groups:* half).
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    "users.list": frozenset({"users:read"}),
    "conversations.list": frozenset({"channels:read", "groups:read"}),
    "conversations.members": frozenset({"channels:read", "groups:read"}),
    "conversations.history": frozenset({"channels:history", "groups:history"}),
    "conversations.replies": frozenset({"channels:history", "groups:history"}),
    "conversations.join": frozenset({"channels:join"}),
    "views.publish": frozenset(),
    "chat.postMessage": frozenset({"chat:write"}),
}

#: Bot scopes per Events API subscription (as named in the manifest).
EVENT_SCOPES: dict[str, frozenset[str]] = {
    "app_home_opened": frozenset(),
    "member_joined_channel": frozenset({"channels:read", "groups:read"}),
    "member_left_channel": frozenset({"channels:read", "groups:read"}),
    "message.channels": frozenset({"channels:history"}),
    "message.groups": frozenset({"groups:history"}),
    "reaction_added": frozenset({"reactions:read"}),
    "channel_created": frozenset({"channels:read"}),
    "channel_rename": frozenset({"channels:read"}),
    "channel_archive": frozenset({"channels:read"}),
    "channel_unarchive": frozenset({"channels:read"}),
}

#: A slash command needs this scope.
COMMAND_SCOPE = "commands"


def subscriptions(event_types: tuple[str, ...]) -> set[str]:
    """The manifest's event names for the app's event types (``message`` is two subscriptions)."""
    out: set[str] = set()
    for kind in event_types:
        out.update({"message.channels", "message.groups"} if kind == "message" else {kind})
    return out


def scopes_for(methods: set[str], events: set[str], *, command: bool = True) -> set[str]:
    """Every scope the given methods, event subscriptions and a slash command need."""
    needed: set[str] = set()
    for method in methods:
        needed |= METHOD_SCOPES[method]
    for event in events:
        needed |= EVENT_SCOPES[event]
    if command:
        needed.add(COMMAND_SCOPE)
    return needed
