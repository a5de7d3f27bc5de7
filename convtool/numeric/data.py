"""Data files and instances: loading ``.npz``, validating, building the loss and the weights.

(Contract; implementation pending.)

Data-file format (``.npz``, loaded with ``allow_pickle=False``):

* squared loss: ``X`` (N x n), ``Y`` (N x m); factorization: ``Y`` (n x m);
  sensing: ``A`` (p x n x m), ``y`` (p,)
* optional ``W1`` (n x h) and ``W2`` (m x h); without them the weights are
  generated (``width``, ``init``, ``std`` / ``p``, ``seed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convtool.numeric.losses import Loss

__all__ = ["Instance", "load_arrays", "build_instance", "load_instance", "default_instance", "save_arrays"]


@dataclass
class Instance:
    """A loss with initial weights: everything a constants computation or a GD run needs."""

    loss: Loss
    W1: np.ndarray
    W2: np.ndarray
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.W1.shape[0]

    @property
    def m(self) -> int:
        return self.W2.shape[0]

    @property
    def h(self) -> int:
        return self.W1.shape[1]


def load_arrays(path) -> dict:
    """Read an ``.npz`` file into a dict of float64 arrays; InputError on any problem."""
    raise NotImplementedError


def build_instance(arrays: dict, *, loss: str = "squared", width: int | None = None, init: str = "gaussian",
                   std: float | None = None, p: float | None = None, seed: int | None = 0,
                   source: str = "") -> Instance:
    """Validate arrays, build the loss, take or generate the weights."""
    raise NotImplementedError


def load_instance(path, **kwargs) -> Instance:
    """``build_instance(load_arrays(path), source=str(path), **kwargs)``."""
    return build_instance(load_arrays(path), source=str(path), **kwargs)


def default_instance() -> Instance:
    """The built-in default: Fig. 1 setting, n = m = 10, h = 500, sigma = 1, seed 0."""
    raise NotImplementedError


def save_arrays(path, arrays: dict) -> None:
    """Write arrays to ``.npz`` (no pickles)."""
    raise NotImplementedError
