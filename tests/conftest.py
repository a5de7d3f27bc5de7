"""Shared fixtures: a click ``runner`` and ``invoke`` with a pinned terminal (width 120, no colour).

Hypothesis: under CI (``CI`` set, as ``.ci/run`` is run) the ``ci`` profile derandomizes the
property tests, so a landing does not depend on the draw; locally each run explores new examples
(the Lemma E.3 property for n = m was also run with 1500 examples while writing it).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# the stable-form cache (convtool.analysis.formcache) of the test session lives in a fresh folder, so the
# tests neither read nor write the user's ~/.cache/convtool (worker processes inherit the variable)
if "CONVTOOL_CACHE_DIR" not in os.environ or os.environ.get("CONVTOOL_TEST_KEEP_CACHE") is None:
    import tempfile

    os.environ["CONVTOOL_CACHE_DIR"] = tempfile.mkdtemp(prefix="convtool-test-cache-")

# the compiled local-PL loop (convtool.numeric.theories.local_pl_fused) keeps its numba cache in one temporary
# folder shared by test sessions (compiled once per machine, ~30 s; never the user's ~/.cache/convtool)
if "CONVTOOL_JIT_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["CONVTOOL_JIT_CACHE_DIR"] = os.path.join(tempfile.gettempdir(),
                                                        f"convtool-test-jit-{getattr(os, 'getuid', lambda: 0)()}")

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

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
