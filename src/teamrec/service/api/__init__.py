"""The HTTP API, one router per resource: health, teams, items, people, events, model.

Every team route lives under ``/api/v1/teams/{team}`` and takes its team through
:func:`teamrec.service.security.team_access`, which applies the key rules first.
"""

from teamrec.service.api import events, health, items, model, people, teams

ROUTERS = (health.router, teams.router, items.router, people.router, events.router, model.router)

__all__ = ["ROUTERS"]
