"""The HTTP API, one router per resource: health, teams, items, people, events, model,
experiments.

Every team route lives under ``/api/v1/teams/{team}`` and takes its team through
:func:`teamrec.service.security.team_access`, which applies the key rules first.
"""

from teamrec.service.api import events, experiments, health, items, model, people, teams

ROUTERS = (health.router, teams.router, items.router, people.router, events.router, model.router,
           experiments.router)

__all__ = ["ROUTERS"]
