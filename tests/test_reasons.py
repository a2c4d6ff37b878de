"""Reasons are data, rendered per surface (web words, plain words, Slack mentions)."""

from __future__ import annotations

from teamrec.demo import DEMO_MATRIX, demo_dataset
from teamrec.reasons import render
from teamrec.spec import TeamSpec, build_team


def test_render_per_surface():
    why = {"kind": "because_in", "item_kind": "channel",
           "items": [{"id": "C1", "name": "ml"}, {"id": "C2", "name": "#bi"}]}
    assert render(why, "web") == "because you are in #ml, #bi"
    assert render(why, "slack") == "because you are in <#C1>, <#C2>"
    films = {**why, "item_kind": "item"}
    assert render(films, "plain") == "similar to what you have: ml, #bi"
    people = {"kind": "people_like_you", "item_kind": "channel", "people": [{"id": "U1", "name": "Ann"}]}
    assert render(people) == "people like you are here: Ann" and render(people, "slack").endswith("<@U1>")
    overlap = {"kind": "overlap", "item_kind": "channel",
               "items": [{"id": "C1", "name": "ml"}, {"id": "C2", "name": "bi"}],
               "counts": {"common": 8, "query_size": 12}}
    assert render(overlap) == "8 of the 12 people in #ml are also in #bi"
    assert render(overlap, "slack") == "8 of the 12 people in <#C1> are also in <#C2>"
    shared = {"kind": "shared", "item_kind": "channel", "items": [{"id": "C1", "name": "ml"}], "counts": {"shared": 4}}
    assert render(shared) == "you share 4 channels: #ml ..."
    assert render(None) is None and render({"kind": "popular"}) == "popular in this team"


def test_reasons_name_telling_channels_not_the_company_wide_ones():
    model = build_team(TeamSpec(format="demo"), team="demo")
    assert DEMO_MATRIX.kinds == ("member",)
    named = []
    for user in model.data.users.ids[:40]:
        for r in model.recommend(str(user), 3, explain=True):
            named += [i["name"] for i in r.details.get("why", {}).get("items", [])]
    company_wide = {"general", "announcements", "random"}
    assert named and sum(n in company_wide for n in named) / len(named) < 0.1
    assert demo_dataset().events["user"].nunique() == model.data.n_users
