"""Independent plain-numpy oracles shared by the engine and schedule tests.

Written from the paper (shared/papers/local-pl-two-layer-linear.txt), never from convtool's own
formulas: the loss, its gradient, the excess loss with our own ``lstsq`` W*, mu and K from a dense
eigendecomposition, and a full-width GD loop (eqs. 7-8, simultaneous update).
"""

from __future__ import annotations

import numpy as np

from convtool.numeric.losses import FactorizationLoss, SensingLoss, SquaredLoss

class Oracle:
    """Plain-numpy l(W), grad l(W), excess loss, mu, K of one instance (written from the paper)."""

    def __init__(self, kind, **data):
        self.kind = kind
        if kind == "squared":
            X, Y = data["X"], data["Y"]
            self.X, self.Y = X, Y
            self.Wstar = np.linalg.lstsq(X, Y, rcond=None)[0]
            ev = np.linalg.eigvalsh(X.T @ X)
        elif kind == "factorization":
            self.Y = data["Y"]
            self.Wstar = self.Y.copy()
            ev = np.array([1.0, 1.0])
        elif kind == "sensing":
            A, y = data["A"], data["y"]
            self.A, self.y = A, y
            p, n, m = A.shape
            M = A.reshape(p, n * m)
            self.M = M
            self.Wstar = np.linalg.lstsq(M, y, rcond=None)[0].reshape(n, m)
            ev = np.linalg.eigvalsh(M.T @ M)
        else:  # pragma: no cover
            raise ValueError(kind)
        self.mu, self.K = float(ev[0]), float(ev[-1])

    def value(self, W):
        if self.kind == "squared":
            return 0.5 * np.sum((self.Y - self.X @ W) ** 2)
        if self.kind == "factorization":
            return 0.5 * np.sum((self.Y - W) ** 2)
        r = np.einsum("pij,ij->p", self.A, W) - self.y
        return 0.5 * float(r @ r)

    def grad(self, W):
        if self.kind == "squared":
            return self.X.T @ (self.X @ W - self.Y)
        if self.kind == "factorization":
            return W - self.Y
        r = np.einsum("pij,ij->p", self.A, W) - self.y
        return np.einsum("p,pij->ij", r, self.A)

    def excess(self, W):
        E = W - self.Wstar
        if self.kind == "squared":
            return 0.5 * np.sum((self.X @ E) ** 2)
        if self.kind == "factorization":
            return 0.5 * np.sum(E ** 2)
        r = self.M @ E.reshape(-1)
        return 0.5 * float(r @ r)


def make_instance(kind, n, m, rng, extra=2):
    """A convtool loss and its independent oracle; squared/sensing have l* > 0 in general."""
    if kind == "squared":
        N = n + extra
        X, Y = rng.normal(size=(N, n)), rng.normal(size=(N, m))
        return SquaredLoss(X, Y), Oracle("squared", X=X, Y=Y)
    if kind == "factorization":
        Y = rng.normal(size=(n, m))
        return FactorizationLoss(Y), Oracle("factorization", Y=Y)
    p = n * m + extra
    A, y = rng.normal(size=(p, n, m)) / np.sqrt(p), rng.normal(size=p)
    return SensingLoss(A, y), Oracle("sensing", A=A, y=y)


def gd_loop(orc, W1, W2, etas):
    """Full-width GD (eqs. 7-8, simultaneous update with the old W1, W2); returns all iterates."""
    W1, W2 = np.array(W1, dtype=float), np.array(W2, dtype=float)
    out = [(W1, W2)]
    for eta in etas:
        G = orc.grad(W1 @ W2.T)
        W1, W2 = W1 - eta * G @ W2, W2 - eta * G.T @ W1
        out.append((W1, W2))
    return out
