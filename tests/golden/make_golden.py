"""Regenerate the two-layer golden outputs (issue 7: the refactor must keep them to round-off).

Run once against the commit *before* the model-agnostic engine (cec8abf), never against new code:

    PYTHONPATH=<checkout of cec8abf> python tests/golden/make_golden.py

Exception: ``run_seeds_xu`` (the xu2023 schedule) was regenerated from the commit of issue 14 item 6, when
xu2023 became the rule as published by its authors (the old reading was a different schedule); regenerate
a single case with ``python tests/golden/make_golden.py run_seeds_xu``.

Each case is a CLI invocation; its strict-JSON stdout is stored as ``<case>.json`` and, for ``run``,
the ``--out`` arrays as ``<case>.npz``. ``tests/test_golden.py`` replays the same invocations.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def data_files(folder: str) -> dict:
    """The data files the cases read (built from fixed seeds, independent of convtool)."""
    rng = np.random.default_rng(7)
    paths = {}
    # squared loss, l* > 0, overdetermined, with weights
    X = rng.normal(size=(30, 4)); Y = rng.normal(size=(30, 3))
    W1 = rng.normal(size=(4, 12)) * 0.5; W2 = rng.normal(size=(3, 12)) * 0.5
    paths["sq"] = os.path.join(folder, "sq.npz"); np.savez(paths["sq"], X=X, Y=Y, W1=W1, W2=W2)
    # factorization, n != m, narrow (no reduction)
    Yf = rng.normal(size=(3, 5))
    paths["fact"] = os.path.join(folder, "fact.npz"); np.savez(paths["fact"], Y=Yf,
                                                               W1=rng.normal(size=(3, 6)), W2=rng.normal(size=(5, 6)))
    # sensing
    A = rng.normal(size=(20, 2, 3)); y = rng.normal(size=20)
    paths["sens"] = os.path.join(folder, "sens.npz"); np.savez(paths["sens"], A=A, y=y)
    # rank-deficient X (mu = 0)
    Xr = rng.normal(size=(10, 2)) @ rng.normal(size=(2, 3))
    paths["rankdef"] = os.path.join(folder, "rankdef.npz"); np.savez(paths["rankdef"], X=Xr, Y=rng.normal(size=(10, 2)))
    return paths


def cases(paths: dict) -> dict:
    """case name -> argv (without the program name); run cases get ``--out`` added."""
    return {
        "constants_default": ["constants", "--json"],
        "constants_fig3": ["constants", "--instance", "fig3", "--width", "80", "--json"],
        "constants_sq": ["constants", paths["sq"], "--json", "--c", "0.3", "--d", "1.5"],
        "constants_fact": ["constants", paths["fact"], "--loss", "factorization", "--json"],
        "constants_sens": ["constants", paths["sens"], "--loss", "sensing", "--width", "9", "--json"],
        "constants_rankdef": ["constants", paths["rankdef"], "--width", "8", "--json"],
        "run_default": ["run", "--json", "--steps", "200"],
        "run_sq_local": ["run", paths["sq"], "--schedule", "local", "--steps", "150", "--json"],
        "run_fact_bt": ["run", paths["fact"], "--loss", "factorization", "--schedule", "backtracking",
                        "--steps", "80", "--json"],
        "run_seeds_xu": ["run", "--width", "40", "--seeds", "3", "--schedule", "xu2023", "--steps", "100", "--json"],
        "run_sens_const": ["run", paths["sens"], "--loss", "sensing", "--width", "9", "--schedule", "constant",
                           "--steps", "60", "--json"],
        "compare_default": ["compare", "--width", "40", "--seeds", "2", "--steps", "150", "--json"],
        "compare_sq": ["compare", paths["sq"], "--schedules", "adaptive,adgd,local", "--steps", "100", "--json"],
    }


def invoke(argv: list[str]) -> str:
    from click.testing import CliRunner

    from convtool.cli.main import cli

    res = CliRunner().invoke(cli, argv, env={"COLUMNS": "120", "NO_COLOR": "1"}, catch_exceptions=False)
    assert res.exit_code == 0, (argv, res.stderr)
    return res.stdout


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = data_files(tmp)
        only = set(sys.argv[1:])
        for name, argv in cases(paths).items():
            if only and name not in only:
                continue
            if argv[0] == "run":
                argv = argv + ["--out", os.path.join(HERE, name + ".npz")]
            out = json.loads(invoke(argv))
            with open(os.path.join(HERE, name + ".json"), "w") as fh:
                json.dump(out, fh, indent=1, sort_keys=True)
            print("wrote", name, file=sys.stderr)


if __name__ == "__main__":
    main()
