"""Folders written whole or not at all: the old one survives a failure, strangers' folders are never replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from teamrec._files import write_folder
from teamrec.errors import DataError


def fill(text: str):
    def write(folder):
        (folder / "marker.json").write_text(text)
        (folder / "data.txt").write_text(text * 3)
    return write


def test_writes_then_replaces_an_earlier_folder(tmp_path):
    target = tmp_path / "out"
    write_folder(target, fill("one"), marker="marker.json", what="a test folder")
    write_folder(target, fill("two"), marker="marker.json", what="a test folder")
    assert (target / "data.txt").read_text() == "twotwotwo"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary or old folder left


def test_a_failure_part_way_leaves_the_old_folder_whole(tmp_path):
    target = tmp_path / "out"
    write_folder(target, fill("one"), marker="marker.json", what="a test folder")

    def broken(folder):
        (folder / "marker.json").write_text("half")
        raise OSError("disk full")

    with pytest.raises(DataError, match="disk full"):
        write_folder(target, broken, marker="marker.json", what="a test folder")
    assert (target / "marker.json").read_text() == "one" and (target / "data.txt").read_text() == "oneoneone"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_never_replaces_someone_elses_files(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff")
    (tmp_path / "notes.txt").write_text("mine")
    for target in (tmp_path / "photos", tmp_path / "notes.txt"):
        with pytest.raises(DataError, match="refusing to overwrite something that is not a test folder"):
            write_folder(target, fill("x"), marker="marker.json", what="a test folder")
    assert (tmp_path / "photos" / "cat.jpg").read_bytes() == b"\xff" and (tmp_path / "notes.txt").read_text() == "mine"
    write_folder(tmp_path / "empty", fill("x"), marker="marker.json", what="a test folder")  # new or empty: fine


KILLED_WRITER = """
import sys, time
from pathlib import Path
from teamrec._files import write_folder

def write(folder):
    (folder / "marker.json").write_text("half")
    print("writing", flush=True)
    time.sleep(600)

write_folder(Path(sys.argv[1]), write, marker="marker.json", what="a test folder")
"""


def test_a_write_killed_part_way_is_cleaned_up_by_the_next_write(tmp_path):
    # Issue 11: kill -9 during a save left a temporary folder that was never removed.
    target = tmp_path / "out"
    write_folder(target, fill("one"), marker="marker.json", what="a test folder")
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
        writer.stdout.close()
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and left[0].startswith(f".out.tmp-{writer.pid}-")  # what kill -9 leaves
    # A writer that still runs keeps its folder (this process's parent runs, for sure).
    alive = tmp_path / f".out.tmp-{os.getppid()}-busy"
    alive.mkdir()
    write_folder(target, fill("two"), marker="marker.json", what="a test folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, "out"]
    assert (target / "marker.json").read_text() == "two"


def test_an_unwritable_place_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match=r"file/out: cannot write a test folder here \("):
        write_folder(tmp_path / "file" / "out", fill("x"), marker="marker.json", what="a test folder")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
