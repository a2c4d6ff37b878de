"""A generated demo workspace: what ``teamrec serve`` shows when given no data.

:func:`demo_dataset` builds, deterministically from a seed, a Slack-like workspace of about
200 people and 60 channels (names and purposes), with:

* **teams of interest**: people belong to one department (ML, data/BI, backend, frontend,
  design, infrastructure, product, sales, marketing, people ops) and often lean towards a
  second one, so channels cluster the way they do in a real company (#ml with #ml-papers and
  #mlops; #bi with #dashboards and #sql; and the ML-and-BI crowd in between);
* company-wide channels (#general, #announcements, #random) and hobby channels (#running,
  #cooking, ...) that cut across departments;
* a few **private** channels (#leadership, #hr-confidential, #ml-interviews,
  #security-incidents) with small member lists, and one archived channel;
* events in the shape the Slack reader produces: one ``member`` event per membership and, per
  (person, channel, kind), aggregated ``message`` / ``reply`` / ``reaction`` counts.

Nothing is read from disk or the network, and the same seed always gives the same workspace,
so the demo, its tests and the README's figures agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from teamrec.data.dataset import Dataset
from teamrec.data.matrix import MatrixConfig

#: The demo workspace's team id (and the service's team name for it).
DEMO_TEAM = "demo"
#: How the demo's events become the matrix: channel membership, as for a Slack export.
DEMO_MATRIX = MatrixConfig(kinds=("member",), agg="max", binary=True)

_START = 1_704_067_200.0  # 2024-01-01T00:00:00Z
_YEAR = 365 * 86_400.0


@dataclass(frozen=True)
class _Channel:
    name: str
    purpose: str
    group: str  # a department, "company", "social" or "private:<department>"
    private: bool = False
    archived: bool = False


#: department -> (job title, its channels with purposes); the first channel is its home.
DEPARTMENTS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "ml": ("Machine learning engineer", [
        ("ml", "Machine learning at work: models, experiments, questions"),
        ("ml-papers", "Papers worth reading, one thread per paper"),
        ("deep-learning", "Neural networks, GPUs and training tricks"),
        ("mlops", "Shipping models: pipelines, feature stores, monitoring"),
        ("nlp", "Language models, search and text"),
        ("recsys", "Recommender systems, ranking and evaluation"),
    ]),
    "data": ("Data analyst", [
        ("bi", "Business intelligence: metrics, reports, definitions"),
        ("dashboards", "Dashboard requests and reviews"),
        ("sql", "SQL help: queries, performance, window functions"),
        ("data-engineering", "Pipelines, warehouses and data quality"),
        ("experimentation", "A/B tests: design, analysis, results"),
    ]),
    "backend": ("Backend engineer", [
        ("backend", "Services, APIs and the things behind them"),
        ("api-design", "Reviews of API designs and conventions"),
        ("databases", "Postgres, Redis and friends"),
        ("python", "All things Python"),
        ("golang", "All things Go"),
    ]),
    "frontend": ("Frontend engineer", [
        ("frontend", "Web and mobile front ends"),
        ("react", "React questions and patterns"),
        ("css", "Layouts, styles and the cascade"),
        ("design-system", "Our components and their rules"),
        ("accessibility", "Making everything usable by everyone"),
    ]),
    "design": ("Product designer", [
        ("design", "Design critique and inspiration"),
        ("ux-research", "User interviews, findings and insights"),
        ("illustration", "Drawings, icons and visual language"),
    ]),
    "infra": ("Site reliability engineer", [
        ("infra", "Infrastructure: clusters, networks, builds"),
        ("kubernetes", "Kubernetes operations and questions"),
        ("security", "Security questions and advisories"),
        ("on-call", "Hand-overs and alerts for the on-call rota"),
        ("cloud-costs", "What our cloud bill is made of"),
    ]),
    "product": ("Product manager", [
        ("product", "Product strategy and discussions"),
        ("roadmap", "What is planned, and when"),
        ("customer-feedback", "What customers tell us"),
        ("feature-requests", "Ideas and requests from everyone"),
    ]),
    "sales": ("Account executive", [
        ("sales", "Deals, pipeline and wins"),
        ("sales-enablement", "Decks, demos and training for sellers"),
        ("crm", "Questions about the CRM"),
    ]),
    "marketing": ("Marketing manager", [
        ("marketing", "Campaigns and brand"),
        ("content", "Blog posts, newsletters and social"),
        ("seo", "Search rankings and web traffic"),
        ("events", "Conferences, meetups and webinars"),
    ]),
    "people": ("People partner", [
        ("people-ops", "HR questions: leave, benefits, policies"),
        ("hiring", "Open roles, referrals and interview loops"),
        ("onboarding", "Welcome! Questions from new joiners"),
        ("learning", "Courses, books and conference budgets"),
    ]),
}

#: How a department is named in job titles ("Head of Data & BI").
DEPARTMENT_NAMES = {
    "ml": "Machine Learning", "data": "Data & BI", "backend": "Backend", "frontend": "Frontend",
    "design": "Design", "infra": "Infrastructure", "product": "Product", "sales": "Sales",
    "marketing": "Marketing", "people": "People",
}

#: Departments that often share a second interest (the ML-and-BI crowd, and so on).
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "ml": ("data", "backend"),
    "data": ("ml", "product"),
    "backend": ("infra", "frontend", "ml"),
    "frontend": ("design", "backend"),
    "design": ("frontend", "product"),
    "infra": ("backend",),
    "product": ("design", "data", "sales"),
    "sales": ("marketing", "product"),
    "marketing": ("sales", "design"),
    "people": ("marketing",),
}

COMPANY = [
    ("general", "Company-wide news and questions: everyone is here"),
    ("announcements", "Official announcements (read-only for most)"),
    ("random", "Everything else: jokes, links and spur-of-the-moment ideas"),
    ("it-help", "Laptops, accounts and VPN: ask IT"),
    ("kudos", "Say thank you in public"),
    ("watercooler", "Small talk across teams"),
]

SOCIAL = [
    ("running", "Runs, races and routes"),
    ("cooking", "Recipes and lunch pictures"),
    ("music", "What are you listening to?"),
    ("pets", "Pictures of our pets, mandatory"),
    ("books", "Book club and recommendations"),
    ("gaming", "Video and board games"),
    ("photography", "Photos and gear"),
    ("coffee", "Beans, brewing and the office machine"),
    ("travel", "Trips, tips and pictures"),
]

PRIVATE = [
    ("leadership", "Leads only: planning and sensitive topics", "lead"),
    ("hr-confidential", "People ops: confidential cases", "people"),
    ("ml-interviews", "ML hiring panel: candidates and feedback", "ml"),
    ("security-incidents", "Incident response for security issues", "infra"),
]

ARCHIVED = [("old-website", "The 2019 website relaunch (archived)", "frontend")]

_FIRST = (
    "Ada Alan Amara Ana Ben Bea Carla Chen Dara Diego Elena Emeka Farah Felix Grace Hugo Ines "
    "Ivan Jana Jonas Kai Kemi Lars Lena Maya Marco Nadia Noah Olga Omar Priya Paulo Rosa Ravi "
    "Sara Sami Tara Tomas Uma Viktor Wen Yara Zoe Zane Lucia Malik Hana Ingrid Kofi"
).split()
_LAST = (
    "Abbott Becker Costa Dubois Eriksen Fischer Garcia Haddad Ito Jensen Kowalski Lindqvist Mensah "
    "Novak Okafor Park Quinn Rossi Santos Tanaka Ueda Varga Weber Xu Yilmaz Zhou Moreau Nakamura "
    "Ortiz Petrov Reyes Schmidt Silva Tran Vogel Walsh"
).split()


def _channels() -> list[_Channel]:
    out = [_Channel(n, p, "company") for n, p in COMPANY]
    for dept, (_, channels) in DEPARTMENTS.items():
        out += [_Channel(n, p, dept) for n, p in channels]
    out += [_Channel(n, p, "social") for n, p in SOCIAL]
    out += [_Channel(n, p, f"private:{g}", private=True) for n, p, g in PRIVATE]
    out += [_Channel(n, p, g, archived=True) for n, p, g in ARCHIVED]
    return out


def demo_dataset(seed: int = 7, n_people: int = 200) -> Dataset:
    """The demo workspace as a :class:`~teamrec.data.dataset.Dataset` (team ``"demo"``).

    Membership probabilities: company channels by their reach (#general and #announcements
    everyone), the person's department channels high (its home channel almost surely), a
    second interest's channels medium, their hobbies high, anything else low. Private channels
    have fixed small member lists: department leads for #leadership, a few people of the
    department otherwise. Activity counts are Poisson with a rate that grows with how close
    the channel is to the person and how talkative the person is.
    """
    rng = np.random.default_rng(seed)
    channels = _channels()
    depts = list(DEPARTMENTS)

    # -- people ---------------------------------------------------------------------------
    sizes = np.array([26, 22, 28, 20, 12, 16, 16, 22, 18, 10], dtype=float)
    dept_of = rng.choice(len(depts), size=n_people, p=sizes / sizes.sum())
    dept_of[: len(depts)] = np.arange(len(depts))  # every department has someone (its lead)
    second = np.full(n_people, -1)
    for p in range(n_people):
        if rng.random() < 0.55:
            options = NEIGHBOURS[depts[dept_of[p]]]
            second[p] = depts.index(options[rng.integers(len(options))])
    talk = rng.lognormal(mean=0.0, sigma=0.6, size=n_people)
    pairs = rng.permutation(len(_FIRST) * len(_LAST))[:n_people]
    names = [f"{_FIRST[i // len(_LAST)]} {_LAST[i % len(_LAST)]}" for i in pairs]
    handles = [n.lower().replace(" ", ".") for n in names]
    user_ids = [f"U{100 + p:04d}" for p in range(n_people)]
    # The lead of each department is its first member in id order.
    leads = {int(np.flatnonzero(dept_of == d)[0]) for d in range(len(depts))}
    hobbies = [set(rng.choice(len(SOCIAL), size=rng.integers(0, 4), replace=False).tolist()) for _ in range(n_people)]

    # -- memberships: a people x channels probability, then one draw ------------------------
    n_ch = len(channels)
    prob = np.full((n_people, n_ch), 0.02)
    company_reach = {"general": 1.0, "announcements": 1.0, "random": 0.7, "it-help": 0.45,
                     "kudos": 0.35, "watercooler": 0.3}
    social_index = {name: i for i, (name, _) in enumerate(SOCIAL)}
    for c, ch in enumerate(channels):
        if ch.group == "company":
            prob[:, c] = company_reach[ch.name]
        elif ch.group == "social":
            prob[:, c] = [0.9 if social_index[ch.name] in hobbies[p] else 0.03 for p in range(n_people)]
        elif ch.group in DEPARTMENTS:
            d = depts.index(ch.group)
            home = ch.name == DEPARTMENTS[ch.group][1][0][0]
            prob[dept_of == d, c] = 0.97 if home else 0.7
            prob[(second == d) & (dept_of != d), c] = 0.6 if home else 0.35
            if ch.archived:
                prob[:, c] *= 0.5
        else:
            prob[:, c] = 0.0
    member = rng.random((n_people, n_ch)) < prob
    for c, ch in enumerate(channels):
        if not ch.private:
            continue
        group = ch.group.split(":", 1)[1]
        if group == "lead":
            chosen = sorted(leads) + [int(p) for p in rng.choice(n_people, size=2, replace=False)]
        else:
            pool = np.flatnonzero(dept_of == depts.index(group))
            chosen = rng.choice(pool, size=min(6, len(pool)), replace=False).tolist()
        member[chosen, c] = True

    # -- events: memberships, then aggregated activity -------------------------------------
    people, chans = np.nonzero(member)
    joined = _START + rng.random(len(people)) * _YEAR * 0.5
    closeness = np.empty(len(people))
    for n, (p, c) in enumerate(zip(people.tolist(), chans.tolist(), strict=True)):
        group = channels[c].group
        if group in DEPARTMENTS:
            closeness[n] = 4.0 if depts.index(group) == dept_of[p] else 1.5
        elif group.startswith("private:"):
            closeness[n] = 2.0
        elif group == "social":
            closeness[n] = 1.2
        else:
            closeness[n] = 0.6
    rate = closeness * talk[people]
    frames = [_events(people, chans, "member", np.ones(len(people)), joined, user_ids, channels)]
    for kind, factor in (("message", 1.0), ("reply", 0.7), ("reaction", 1.6)):
        counts = rng.poisson(rate * factor)
        has = counts > 0
        last = joined[has] + rng.random(int(has.sum())) * (_START + _YEAR - joined[has])
        frames.append(_events(people[has], chans[has], kind, counts[has].astype(float), last, user_ids, channels))
    events = pd.concat(frames, ignore_index=True)

    channel_ids = [f"C{100 + c:04d}" for c in range(n_ch)]
    items = pd.DataFrame(
        {
            "team": DEMO_TEAM,
            "item": channel_ids,
            "name": [ch.name for ch in channels],
            "description": [ch.purpose for ch in channels],
            "private": [ch.private for ch in channels],
            "archived": [ch.archived for ch in channels],
            "member_count": member.sum(axis=0).astype(np.int64),
        }
    )
    users = pd.DataFrame(
        {
            "team": DEMO_TEAM,
            "user": user_ids,
            "name": names,
            "handle": handles,
            "title": [
                ("Head of " + DEPARTMENT_NAMES[depts[d]]) if p in leads else DEPARTMENTS[depts[d]][0]
                for p, d in enumerate(dept_of)
            ],
            "department": [depts[d] for d in dept_of],
        }
    )
    info = {"format": "demo", "item_kind": "channel", "source": f"teamrec.demo(seed={seed})", "seed": seed}
    return Dataset(events=events, items=items, users=users, info=info)


def _events(people, chans, kind, values, timestamps, user_ids, channels) -> pd.DataFrame:
    ids = np.asarray(user_ids, dtype=object)
    channel_ids = np.asarray([f"C{100 + c:04d}" for c in range(len(channels))], dtype=object)
    return pd.DataFrame(
        {
            "team": DEMO_TEAM,
            "user": ids[people],
            "item": channel_ids[chans],
            "kind": kind,
            "value": values,
            "timestamp": np.round(timestamps, 3),
        }
    )
