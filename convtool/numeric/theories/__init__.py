"""Theories attached to GD runs, one per paper, and which models they apply to.

:data:`THEORIES` maps a paper key to its :class:`~convtool.numeric.theories.base.Theory` class,
:data:`THEORIES_FOR_MODEL` a model key to the theories that apply to it (the single place that says so).

Examples
--------
>>> sorted(THEORIES)
['du-hu-lee', 'local-pl', 'song-et-al', 'zhao-xu', 'zou-long-gu']
>>> THEORIES_FOR_MODEL["deep-linear"]
['zhao-xu', 'du-hu-lee']
>>> make_theory("local-pl", c=0.5).key
'local-pl'
"""

from __future__ import annotations

from convtool.errors import InputError
from convtool.numeric.theories.balanced import Balanced
from convtool.numeric.theories.base import Check, Observation, RunContext, Theory
from convtool.numeric.theories.local_pl import LocalPL
from convtool.numeric.theories.song_et_al import SongEtAl
from convtool.numeric.theories.zhao_xu import ZhaoXu
from convtool.numeric.theories.zou_long_gu import ZouLongGu

__all__ = ["THEORIES", "THEORIES_FOR_MODEL", "make_theory", "theories_for", "Theory", "Check", "Observation",
           "RunContext"]

#: paper key -> theory class
THEORIES: dict[str, type] = {LocalPL.key: LocalPL, ZhaoXu.key: ZhaoXu, ZouLongGu.key: ZouLongGu,
                             Balanced.key: Balanced, SongEtAl.key: SongEtAl}

#: model key -> the theories (paper keys) that apply to it
#: (Du, Hu & Lee's balancedness theory is one class attached to every model it covers)
THEORIES_FOR_MODEL: dict[str, list] = {"two-layer": ["local-pl", "du-hu-lee"], "deep-linear": ["zhao-xu", "du-hu-lee"],
                                       "mlp": ["du-hu-lee"], "resnet": ["zou-long-gu", "du-hu-lee"], "shallow": ["song-et-al"]}


def make_theory(key: str, **options) -> Theory:
    """Instantiate theory ``key`` with ``options`` (InputError on an unknown key)."""
    if key not in THEORIES:
        raise InputError(f"unknown theory {key!r}; choose from {', '.join(sorted(THEORIES))}")
    return THEORIES[key](**options)


def theories_for(model_key: str, **options) -> list:
    """Fresh instances of the theories that apply to model ``model_key`` (a key of :data:`THEORIES_FOR_MODEL`)."""
    if model_key not in THEORIES_FOR_MODEL:
        raise InputError(f"unknown model {model_key!r}; choose from {', '.join(sorted(THEORIES_FOR_MODEL))}")
    return [make_theory(k, **options.get(k, {})) for k in THEORIES_FOR_MODEL[model_key]]
