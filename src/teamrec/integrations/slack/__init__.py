"""teamrec's Slack app (extra ``teamrec[slack]``): sync a workspace, answer where people work.

* :mod:`.client` -- the Web API client: token from the environment, 429 retries, paging;
* :mod:`.sync` -- ``teamrec slack sync``: people, channels, memberships, activity -> the store;
* :mod:`.events` -- Events API payloads -> teamrec events and channel metadata (pure);
* :mod:`.blocks` -- Block Kit: App Home, the slash command's answer, the digest;
* :mod:`.digest` -- when a digest is sent (typed settings, vectorised rules, state);
* :mod:`.protocol` -- what the app needs from the service layer; :mod:`.local` implements it
  over a ``TeamModel`` until the service layer is bound;
* :mod:`.app` -- the Bolt app factory; :mod:`.http` -- HTTP router and Socket Mode runner.
"""

from teamrec.integrations.slack.app import SlackSettings, create_slack_app, send_digests
from teamrec.integrations.slack.digest import DigestSettings, DigestState
from teamrec.integrations.slack.protocol import Answer, Colleague, PersonFacts, Reason, Recommended, SlackService
from teamrec.integrations.slack.sync import SyncReport, sync_workspace

__all__ = [
    "Answer", "Colleague", "DigestSettings", "DigestState", "PersonFacts", "Reason", "Recommended",
    "SlackService", "SlackSettings", "SyncReport", "create_slack_app", "send_digests", "sync_workspace",
]
