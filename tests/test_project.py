"""The project's own promises: README, CI script and registry stay in step."""

from __future__ import annotations

import pathlib
import re

from convtool.analysis import get, names

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    quick = re.search(r"```bash\n(.*?)```", README, re.S).group(1).splitlines()
    assert len(quick) == 2  # the two-command quick start
    test_cmd = quick[1].split("&&")[1].split("#")[0].strip()
    assert test_cmd == "python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1].strip() == test_cmd  # the last thing CI does is the README's test command
    assert "pip install" in quick[0] and "convtool run" in quick[0]


def test_readme_lists_every_registered_quantity_with_its_reference():
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([A-Za-z0-9_]+)` \| \w+ \| ([^|]+) \|", README, re.M)}
    for name in names():
        assert name in rows, f"README's quantity table lacks {name}"
        assert rows[name].strip() == get(name).reference, name
