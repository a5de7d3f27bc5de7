"""Shared fixtures: a click ``runner`` and ``invoke`` with a pinned terminal (width 120, no colour)."""

from __future__ import annotations

import pytest

#: environment of every CLI invocation in the tests: fixed width, no colour
CLI_ENV = {"COLUMNS": "120", "NO_COLOR": "1", "FORCE_COLOR": None}


@pytest.fixture
def runner():
    """A ``click.testing.CliRunner`` (click >= 8.2: ``result.stdout`` and ``result.stderr`` are separate)."""
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture
def invoke(runner):
    """``invoke(*args, env=None)``: run ``convtool ARGS`` in-process with the pinned environment."""
    from convtool.cli.main import cli

    def _invoke(*args, env=None):
        return runner.invoke(cli, [str(a) for a in args], env={**CLI_ENV, **(env or {})})

    return _invoke
