"""Assignment: balanced to the weights, sticky (no state, same in every process), rollout and window."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats

from teamrec.errors import DataError
from teamrec.experiments._hash import hash_ids, seed_of, to_unit
from teamrec.experiments.assignment import NOT_ASSIGNED, assign, assign_names, assign_one
from teamrec.experiments.settings import parse_experiment

N = 100_000


def experiment(**over):
    data = {
        "name": "exp-1",
        "arms": [
            {"name": "control", "algorithm": "popularity", "weight": 1},
            {"name": "knn", "algorithm": "item-knn", "weight": 2},
            {"name": "ease", "algorithm": "ease", "weight": 1},
        ],
        "start": "2026-12-01T00:00:00Z",
        "end": "2026-12-15T00:00:00Z",
        "salt": "s1",
    }
    data.update(over)
    return parse_experiment(data)


PERSONS = np.array([f"U{i:06d}" for i in range(N)], dtype=object)


def test_hash_golden_values_pin_the_function():
    """Changing these would reassign every running experiment's people: the values are the contract."""
    h = hash_ids(["person-0", "é", "", "a", "a\x00", 12345], seed_of("exp", "salt"))
    assert h.tolist() == GOLDEN
    assert h.dtype == np.uint64
    # an id hashes the same alone or in any batch, and ints hash as their text
    assert hash_ids(["é"], seed_of("exp", "salt")).tolist() == [GOLDEN[1]]
    assert hash_ids(["12345"], seed_of("exp", "salt")).tolist() == [GOLDEN[5]]
    assert hash_ids([], 1).shape == (0,)


GOLDEN = [3528551214409504822, 17081060503844085428, 14720067901929170517, 2328644872310600038,
          770446680575424758, 9704573219099726230]
MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def reference_hash(value: object, seed: int) -> int:
    """The module docstring's definition, with Python integers and UTF-32-LE bytes: no NumPy."""
    text = str(value)
    data = text.encode("utf-32-le")
    data += b"\0" * (-len(data) % 8 or (8 if not data else 0))
    k = 0x9E3779B97F4A7C15
    h = _mix(seed ^ ((len(text) * k) & MASK))
    for j in range(0, len(data), 8):
        h = _mix(h ^ _mix((int.from_bytes(data[j:j + 8], "little") + k) & MASK))
    return h


def test_vectorised_hash_equals_the_reference_definition():
    rng = np.random.default_rng(3)
    alphabet = list("abcXYZ019-_. é中\x00") + ["\U0001F600"]
    ids = ["".join(rng.choice(alphabet, size=rng.integers(0, 23))) for _ in range(3000)] + [7, -3, 2**40]
    seed = int(seed_of("e", "s"))
    assert hash_ids(ids, seed).tolist() == [reference_hash(v, seed) for v in ids]


def test_arms_are_balanced_to_the_weights_over_100000_ids():
    arms = assign(experiment(), "team-a", PERSONS)
    counts = np.bincount(arms, minlength=3)
    expected = N * np.array([0.25, 0.5, 0.25])
    chi2, p = stats.chisquare(counts, expected)
    assert p > 0.001, (counts, chi2)
    # and the draws are uniform in finer detail (20 bins) and independent of the id's order
    u = to_unit(hash_ids(PERSONS, seed_of("x")))
    assert stats.chisquare(np.histogram(u, bins=20, range=(0, 1))[0]).pvalue > 0.001
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.02


def test_different_salts_or_names_reshuffle_independently():
    a = assign(experiment(), "team-a", PERSONS)
    b = assign(experiment(salt="s2"), "team-a", PERSONS)
    c = assign(experiment(name="exp-2"), "team-a", PERSONS)
    for other in (b, c):
        table = np.zeros((3, 3))
        np.add.at(table, (a, other), 1)
        assert stats.chi2_contingency(table).pvalue > 0.001


def test_assignment_is_sticky_across_processes():
    """A fresh interpreter with another hash seed gives the same arms: nothing is stored or salted per process."""
    here = assign(experiment(), "team-a", PERSONS[:2000])
    code = (
        "import json, numpy as np;"
        "from teamrec.experiments.assignment import assign;"
        "from teamrec.experiments.settings import parse_experiment;"
        f"e = parse_experiment(json.loads({json.dumps(experiment().model_dump_json())}));"
        "p = np.array([f'U{i:06d}' for i in range(2000)], dtype=object);"
        "print(json.dumps(assign(e, 'team-a', p).tolist()))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == here.tolist()
    # and within a process, again and in another order
    order = np.random.default_rng(0).permutation(N)
    shuffled = assign(experiment(), "team-a", PERSONS[order])
    assert np.array_equal(shuffled, assign(experiment(), "team-a", PERSONS)[order])


def test_rollout_share_of_teams_and_growing_rollout_keeps_teams_in():
    teams = np.array([f"T{i}" for i in range(20_000)], dtype=object)
    people = np.full(len(teams), "same-person", dtype=object)
    ten = assign(experiment(rollout=0.1), teams, people) != NOT_ASSIGNED
    twenty = assign(experiment(rollout=0.2), teams, people) != NOT_ASSIGNED
    assert abs(ten.mean() - 0.1) < 0.01
    assert abs(twenty.mean() - 0.2) < 0.01
    assert not (ten & ~twenty).any()
    assert not (assign(experiment(rollout=0.0), teams, people) != NOT_ASSIGNED).any()
    # everyone in a team that is in is assigned; nobody in a team that is out
    team_in = teams[np.flatnonzero(ten)[0]]
    team_out = teams[np.flatnonzero(~ten)[0]]
    assert (assign(experiment(rollout=0.1), team_in, PERSONS[:1000]) != NOT_ASSIGNED).all()
    assert (assign(experiment(rollout=0.1), team_out, PERSONS[:1000]) == NOT_ASSIGNED).all()


def test_team_unit_gives_every_person_of_a_team_the_same_arm():
    e = experiment(unit="team")
    teams = np.repeat(np.array([f"T{i}" for i in range(200)], dtype=object), 50)
    people = np.array([f"P{i}" for i in range(len(teams))], dtype=object)
    arms = assign(e, teams, people).reshape(200, 50)
    assert (arms == arms[:, :1]).all()
    assert len(np.unique(arms)) == 3
    assert np.array_equal(assign(e, teams[::50]), arms[:, 0])


def test_the_same_person_id_in_two_teams_is_two_units():
    a = assign(experiment(), "team-a", PERSONS[:5000])
    b = assign(experiment(), "team-b", PERSONS[:5000])
    assert (a != b).mean() > 0.5


def test_outside_the_window_nobody_is_assigned():
    e = experiment()
    before, during, after = (datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC),
                             datetime(2026, 12, 15, tzinfo=UTC))
    assert (assign(e, "t", PERSONS[:100], at=before) == NOT_ASSIGNED).all()
    assert (assign(e, "t", PERSONS[:100], at=after) == NOT_ASSIGNED).all()
    assert np.array_equal(assign(e, "t", PERSONS[:100], at=during), assign(e, "t", PERSONS[:100]))
    assert assign_one(e, "t", "U000001", at=before) is None
    assert assign_one(e, "t", "U000001", at=during) in e.arm_names


def test_names_and_bad_ids():
    e = experiment(rollout=0.5)
    names = assign_names(e, np.array(["T1", "T2", "T3", "T4"], dtype=object), ["a", "b", "c", "d"])
    assert set(names.tolist()) <= {None, *e.arm_names}
    with pytest.raises(DataError, match="blank person id at row 1"):
        assign(e, "t", ["a", "", "c"])
    with pytest.raises(DataError, match="blank team id at row 0"):
        assign(e, [None, "t"], ["a", "b"])
    with pytest.raises(DataError, match="3 team ids for 2 rows"):
        assign(e, ["t", "u", "v"], ["a", "b"])
    with pytest.raises(DataError, match="unit is 'person' but no person ids"):
        assign(e, ["t"])


def test_one_hundred_thousand_ids_are_hashed_without_a_python_call_per_id():
    import time

    start = time.perf_counter()
    assign(experiment(), "team-a", PERSONS)
    assert time.perf_counter() - start < 5.0  # generous: a shared machine; ~0.1 s unloaded
