"""Usage errors (a missing argument, an unknown option or command) are one clear message and
exit status 2 from every entry point, never a traceback; --help is exit 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from teamrec.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["stats"], "Missing argument 'source'"),
        (["stats", "x", "--bogus"], "No such option: --bogus"),
        (["nosuch"], "No such command 'nosuch'"),
        (["evaluate", "x", "-a", "popularity"], "Missing option '--protocol'"),
        (["recommend", "x", "--format", "csv", "ana", "-k", "many"], "Invalid value for '-k'"),
    ],
)
def test_usage_errors_exit_2_with_one_message(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_arguments_shows_help_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr()
    assert "Usage" in out.out + out.err and "Traceback" not in out.out + out.err


def test_the_installed_command_too():
    """The console script goes through the same handling (run as a real process)."""
    done = subprocess.run([sys.executable, "-c", "from teamrec.cli import run; run()", "stats"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Missing argument 'source'" in done.stderr and "Traceback" not in done.stderr
    helped = subprocess.run([sys.executable, "-c", "from teamrec.cli import run; run()", "stats", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "--format" in helped.stdout
