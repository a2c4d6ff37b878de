"""The helpers every reader shares: value parsing and first-bad-row reporting."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from teamrec.data.sources._common import Check, apply_checks, id_strings, parse_timestamps
from teamrec.errors import DataError


def test_timestamps_from_numbers_text_and_iso_8601():
    column = pd.Series(["1600000000", "2020-01-01", "2020-01-01T01:00:00+01:00", None, "noon",
                        "1.5e9"], dtype=object)
    seconds, bad = parse_timestamps(column)
    assert seconds[:3].tolist() == [1600000000.0, 1577836800.0, 1577836800.0]
    assert math.isnan(seconds[3]) and seconds[5] == 1.5e9
    assert bad.tolist() == [False, False, False, False, True, False]


def test_timestamps_from_datetime_columns_are_utc():
    naive = pd.Series(pd.to_datetime(["1970-01-02"]))
    assert parse_timestamps(naive)[0].tolist() == [86400.0]
    aware = naive.dt.tz_localize("Europe/Paris")
    assert parse_timestamps(aware)[0].tolist() == [86400.0 - 3600]


def test_ids_keep_text_and_drop_the_float_detour():
    text, missing, invalid = id_strings(pd.Series([1.0, np.nan, 3.0]))
    assert text.tolist()[::2] == ["1", "3"] and missing.tolist() == [False, True, False]
    text, missing, invalid = id_strings(pd.Series(["a", "", None, [1]], dtype=object))
    assert text[0] == "a" and missing.tolist() == [False, True, True, False]
    assert invalid.tolist() == [False, False, False, True]


def test_first_bad_row_then_first_bad_field():
    checks = [
        Check("a", np.array([False, False, True]), "bad a"),
        Check("b", np.array([False, True, True]), "bad b: {value!r}", np.array(["x", "y", "z"])),
    ]
    with pytest.raises(DataError) as exc:
        apply_checks(checks, 3, file="f.csv", line_of=lambda r: r + 2, skip_bad_rows=False)
    assert str(exc.value) == "f.csv, line 3, field 'b': bad b: 'y'"
    keep, skipped = apply_checks(checks, 3, file="f.csv", line_of=lambda r: r + 2,
                                 skip_bad_rows=True)
    assert keep.tolist() == [True, False, False] and skipped == 2
    assert apply_checks(checks[:0], 3, file="f", line_of=int, skip_bad_rows=False) == (None, 0)
