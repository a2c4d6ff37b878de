"""The recommendation service: an HTTP API and a web page over per-team models.

::

    from teamrec.service import create_app, load_settings
    app = create_app(load_settings("teamrec.toml"))     # then: uvicorn, or TestClient(app)

See :mod:`teamrec.service.settings` for the settings file, :mod:`teamrec.service.teams` for
the application layer every surface calls (``app.state.service.team(name)`` is a
:class:`TeamService`), :mod:`teamrec.service.api` for the routes and
:mod:`teamrec.service.security` for the key rules.
"""

from teamrec.service.app import create_app
from teamrec.service.settings import KeySettings, OnlineSettings, Settings, TeamSettings, load_settings
from teamrec.service.teams import Caller, TeamService

__all__ = [
    "Caller", "KeySettings", "OnlineSettings", "Settings", "TeamService", "TeamSettings", "create_app", "load_settings",
]
