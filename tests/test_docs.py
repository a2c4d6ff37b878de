"""Docs cannot drift: every CLI command, algorithm and format is in the README."""

from pathlib import Path

import typer

from teamrec.algorithms.registry import algorithm_names
from teamrec.cli import app
from teamrec.data.sources import FORMATS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_command_is_documented():
    for name in typer.main.get_command(app).list_commands(None):
        assert f"teamrec {name}" in README, name


def test_every_algorithm_is_documented():
    for name in algorithm_names():
        assert f"`{name}`" in README, name


def test_every_format_is_documented():
    for name in FORMATS:
        assert f"`{name}`" in README, name


def test_readme_opens_with_the_two_commands():
    block = README.split("```sh", 1)[1].split("```", 1)[0].strip().splitlines()
    assert [line.split()[0:2] for line in block] == [["make", "demo"], ["make", "test"]]
