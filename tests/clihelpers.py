"""Assertions shared by the CLI tests (tests/test_cli.py, tests/test_cli_run.py)."""

from __future__ import annotations

import json


def ok(result):
    """Assert a successful run (exit 0, no exception, no traceback) and return it."""
    assert result.exception is None, result.stderr
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result


def assert_user_error(result, *fragments):
    """Exit 2, a SystemExit, exactly one non-empty stderr line starting with 'Error:', no traceback."""
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for frag in fragments:
        assert frag in lines[0], lines[0]
    return lines[0]


def strict_json(text: str):
    """Parse JSON, refusing NaN / Infinity (``json.dumps(..., allow_nan=False)`` never writes them)."""
    def bad(name):
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=bad)
