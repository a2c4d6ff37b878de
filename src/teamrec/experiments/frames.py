"""The two logs an experiment is measured from: impressions and feedback, as pandas frames.

The event store's tables (round two) follow these schemas column for column.

``impressions``: one row per item shown in a recommendation answer.

=================  ==============  ==========================================================
column             dtype           meaning
=================  ==============  ==========================================================
recommendation_id  string          the answer's id (unique per answer)
team               string          the team the person belongs to
person             string          who was shown the list
arm                string          the arm that produced the list (or the default policy's name)
item               string          the item shown
position           int64           its place in the list, 1 = top
explored           bool            filled by exploration (a random eligible item)
propensity         float64         the probability this item was shown, in (0, 1]
shown_at           datetime (UTC)  when the answer was served
=================  ==============  ==========================================================

``feedback``: one row per action a person took on a shown item.

=================  ==============  ==========================================================
recommendation_id  string          the answer the item was shown in
item               string          the item acted on
action             string          one of :data:`ACTIONS`
at                 datetime (UTC)  when
=================  ==============  ==========================================================

An impression *is clicked* when it has at least one of :data:`POSITIVE_ACTIONS` (a person took
the recommendation); several actions on one impression count once. ``dismiss`` ("not
interested") and ``rate_down`` are recorded but are not clicks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from teamrec.errors import DataError

IMPRESSION_COLUMNS: tuple[str, ...] = (
    "recommendation_id", "team", "person", "arm", "item", "position", "explored", "propensity", "shown_at",
)
FEEDBACK_COLUMNS: tuple[str, ...] = ("recommendation_id", "item", "action", "at")
ACTIONS: tuple[str, ...] = ("click", "join", "dismiss", "rate_up", "rate_down")
POSITIVE_ACTIONS: frozenset[str] = frozenset({"click", "join", "rate_up"})

_ID_COLUMNS = {
    "impressions": ("recommendation_id", "team", "person", "arm", "item"),
    "feedback": ("recommendation_id", "item"),
}


def _missing(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}", file=name)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)} (expected {', '.join(columns)})", file=name)


def _show(value: object) -> str:
    """A cell for an error message: NumPy scalars as plain Python values."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _ids(frame: pd.DataFrame, out: dict[str, object], name: str, columns: tuple[str, ...]) -> None:
    for col in columns:
        values = frame[col]
        blank = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
        if blank.any():
            raise DataError(f"row {_first(blank)}: blank id", file=name, field=col)
        out[col] = values.astype(str).astype(object).to_numpy()


def _times(frame: pd.DataFrame, col: str, name: str) -> pd.Series:
    values = frame[col]
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        parsed = pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataError(f"row {_first(bad)}: not a time: {_show(values.iloc[_first(bad)])}", file=name, field=col)
    return parsed.reset_index(drop=True)


def validate_impressions(frame: pd.DataFrame, name: str = "impressions") -> pd.DataFrame:
    """Check an impressions frame; return it with the canonical columns, order and dtypes.

    Errors name the frame, the 0-based row and the column: ``impressions, field 'propensity':
    row 3: must be in (0, 1], got 0.0``.
    """
    _missing(frame, IMPRESSION_COLUMNS, name)
    out: dict[str, object] = {}
    _ids(frame, out, name, _ID_COLUMNS["impressions"])
    position = pd.to_numeric(frame["position"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(position) | (position < 1) | (position != np.floor(position))
    if bad.any():
        got = _show(frame["position"].iloc[_first(bad)])
        raise DataError(f"row {_first(bad)}: must be an integer >= 1, got {got}", file=name, field="position")
    explored = frame["explored"]
    if not pd.api.types.is_bool_dtype(explored.dtype):
        ok = explored.isin([True, False, 0, 1]).to_numpy()
        if not ok.all():
            raise DataError(f"row {_first(~ok)}: must be true or false, got {_show(explored.iloc[_first(~ok)])}",
                            file=name, field="explored")
    propensity = pd.to_numeric(frame["propensity"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(propensity) | (propensity <= 0) | (propensity > 1)
    if bad.any():
        got = _show(frame["propensity"].iloc[_first(bad)])
        raise DataError(f"row {_first(bad)}: must be in (0, 1], got {got}", file=name, field="propensity")
    result = pd.DataFrame(out)
    result["position"] = position.astype(np.int64)
    result["explored"] = explored.astype(bool).to_numpy()
    result["propensity"] = propensity
    result["shown_at"] = _times(frame, "shown_at", name)
    duplicated = result.duplicated(["recommendation_id", "item"]).to_numpy()
    if duplicated.any():
        raise DataError(f"row {_first(duplicated)}: item shown twice in one recommendation", file=name, field="item")
    duplicated = result.duplicated(["recommendation_id", "position"]).to_numpy()
    if duplicated.any():
        raise DataError(f"row {_first(duplicated)}: two items at one position of one recommendation",
                        file=name, field="position")
    per_answer = result.groupby("recommendation_id", sort=False)[["team", "person", "arm"]].nunique()
    mixed = (per_answer > 1).any(axis=1)
    if mixed.any():
        raise DataError(f"recommendation {mixed.index[mixed.to_numpy()][0]!r} has more than one team, person or arm",
                        file=name, field="recommendation_id")
    return result[list(IMPRESSION_COLUMNS)]


def validate_feedback(frame: pd.DataFrame, name: str = "feedback") -> pd.DataFrame:
    """Check a feedback frame; return it with the canonical columns, order and dtypes."""
    _missing(frame, FEEDBACK_COLUMNS, name)
    out: dict[str, object] = {}
    _ids(frame, out, name, _ID_COLUMNS["feedback"])
    action = frame["action"].astype(str)
    bad = ~action.isin(ACTIONS).to_numpy()
    if bad.any():
        raise DataError(f"row {_first(bad)}: unknown action {action.iloc[_first(bad)]!r} (known: {', '.join(ACTIONS)})",
                        file=name, field="action")
    result = pd.DataFrame(out)
    result["action"] = action.astype(object).to_numpy()
    result["at"] = _times(frame, "at", name)
    return result[list(FEEDBACK_COLUMNS)]


def empty_impressions() -> pd.DataFrame:
    """An impressions frame with the schema and no rows."""
    frame = pd.DataFrame({c: [] for c in IMPRESSION_COLUMNS}).astype({"shown_at": "datetime64[ns, UTC]"})
    return validate_impressions(frame)


def empty_feedback() -> pd.DataFrame:
    """A feedback frame with the schema and no rows."""
    return validate_feedback(pd.DataFrame({c: [] for c in FEEDBACK_COLUMNS}).astype({"at": "datetime64[ns, UTC]"}))


def clicked(impressions: pd.DataFrame, feedback: pd.DataFrame) -> np.ndarray:
    """For each impression row, whether it has a positive action (both frames already validated).

    Feedback that matches no impression is ignored here (the service refuses it at the door).
    """
    positive = feedback.loc[feedback["action"].isin(POSITIVE_ACTIONS), ["recommendation_id", "item"]]
    keys = pd.MultiIndex.from_frame(positive.drop_duplicates())
    rows = pd.MultiIndex.from_frame(impressions[["recommendation_id", "item"]])
    return rows.isin(keys)
