"""teamrec's Slack app (extra ``teamrec[slack]``): sync a workspace, answer where people work.

* :mod:`.client` -- the Web API client: token from the environment, 429 retries, paging;
* :mod:`.sync` -- ``teamrec slack sync``: people, channels, memberships, activity -> the store,
  channel and people metadata -> the team's ``teamrec`` metadata folder;
* :mod:`.events` -- Events API payloads -> teamrec events and channel metadata (pure);
* :mod:`.team` -- the binding to the service layer: Slack ids -> :class:`TeamService` calls;
* :mod:`.blocks` -- Block Kit: App Home, the slash command's answer, the digest;
* :mod:`.digest` -- when a digest is sent (typed settings, vectorised rules, state);
* :mod:`.settings` -- the ``[slack]`` table of the service's settings (no Slack import);
* :mod:`.app` -- the Bolt app factory; :mod:`.http` -- the endpoints mounted in the service,
  and Socket Mode.
"""

import importlib
from typing import Any

#: public name -> its module (imported on first use: the service reads the settings without Slack's packages)
_EXPORTS = {
    "DigestSettings": "digest", "DigestState": "digest", "SlackSettings": "settings", "SlackTeam": "team",
    "SyncReport": "sync", "create_slack_app": "app", "send_digests": "app", "sync_workspace": "sync",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
