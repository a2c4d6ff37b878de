"""The recommendation service: an HTTP API and a web page over per-team models.

::

    from teamrec.service import create_app, load_settings
    app = create_app(load_settings("teamrec.toml"))     # then: uvicorn, or TestClient(app)

See :mod:`teamrec.service.settings` for the settings file, :mod:`teamrec.service.api` for the
routes and :mod:`teamrec.service.security` for the key rules.
"""

from teamrec.service.app import create_app
from teamrec.service.settings import KeySettings, Settings, TeamSettings, load_settings

__all__ = ["KeySettings", "Settings", "TeamSettings", "create_app", "load_settings"]
