"""The public ``__all__`` is complete and every name in it exists (httpx's habit)."""

import teamrec


def test_all_names_exist():
    for name in teamrec.__all__:
        assert hasattr(teamrec, name), name


def test_all_is_complete():
    public = {
        name
        for name, value in vars(teamrec).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("teamrec")
    }
    assert public <= set(teamrec.__all__), public - set(teamrec.__all__)
