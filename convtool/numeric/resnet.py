"""Deep linear ResNets ``f(x) = B (I + W_L) ... (I + W_1) A x`` of Zou, Long & Gu, for the GD engine.

Paper: D. Zou, P. M. Long, Q. Gu, "On the Global Convergence of Training Deep Linear ResNets", ICLR 2020,
arXiv:2003.01094 (Section 2, Algorithm 1). A (m x d) and B (k x m) are fixed, the hidden weights W_l
(m x m) are trained from zero (Algorithm 1). ``skip=False`` is Section 5.2's baseline, the standard deep
linear network ``B W_L ... W_1 A`` (Gaussian hidden init), through the same code.

Layout
------
convtool stores samples as rows (``X`` n x d, ``Y`` n x k) and its squared loss is
``1/2 ||Y - X W||_F^2`` with ``W`` (d, k). The paper's end-to-end map is ``U = B V A`` (k x d),
``V = (I + W_L) ... (I + W_1)``; the model's ``product`` is ``W = U^T`` (R, d, k), so
:class:`~convtool.numeric.losses.SquaredLoss` is exactly the paper's plain-sum loss (no 1/n) and its
gradient ``Gl = X^T X (W - W*)`` (d, k) is the transpose of the paper's ``(U X - Y) X^T``. The loss
gradient needs only the Gram ``X^T X`` (precomputed by the loss), never the samples.

Cost
----
With ``F_l = (I + W_l) ... (I + W_1) A`` (m x d, forward) and ``S_l = B (I + W_L) ... (I + W_{l+1})``
(k x m, backward) the layer gradient is ``grad_l = S_l^T E F_{l-1}^T``, ``E = Gl^T`` (k x d) (Lemma A.1's
proof): product and gradients cost ``O(L m^2 (d + k + min(d, k)))`` flops; no m x m product of layers is
formed. ``product`` keeps its forward pass for the ``param_grads`` calls on the same state (the
minibatch gradient reuses it too); state arrays are never modified in place.

Examples
--------
>>> import numpy as np
>>> from convtool.numeric.losses import SquaredLoss
>>> rng = np.random.default_rng(0)
>>> X, Y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
>>> A, B = make_transforms("gaussian", d=3, k=2, m=6, seed=0)
>>> mdl = LinearResNet(A, B, depth=4)
>>> state = mdl.init_state()
>>> mdl.product(state).shape                     # (R, d, k) = U^T
(1, 3, 2)
>>> bool(np.allclose(mdl.product(state)[0], (B @ A).T))   # zero init: U = B A
True
>>> loss = SquaredLoss(X, Y)
>>> g = mdl.param_grads(state, loss.grad(mdl.product(state)))
>>> new = mdl.step(state, g, np.array([1e-5]))
>>> bool(loss.excess(mdl.product(new))[0] < loss.excess(mdl.product(state))[0])
True
"""

from __future__ import annotations

import numpy as np

from convtool.errors import InputError

__all__ = ["LinearResNet", "make_transforms", "hidden_init", "TRANSFORMS", "MinibatchSampler", "transform_spectra"]

EPS = np.finfo(np.float64).eps

#: input/output transformations of Section 4 (:func:`make_transforms`)
TRANSFORMS = {
    "gaussian": "A_ij ~ N(0, alpha^2), B_ij ~ N(0, beta^2) i.i.d. (Proposition 3.3)",
    "identity": "A = [I_d; 0], B = sqrt(m/k) [I_k, 0] (Section 4.1; GD can stall)",
    "modified-identity": "A = [I_d; 0; 0], B = [0, alpha I_k, 0]: disjoint supports, BA = 0 (Section 4.2, m >= d + k)",
}


def _T(a):
    return np.swapaxes(a, -1, -2)


def make_transforms(kind: str, *, d: int, k: int, m: int, alpha: float = 1.0, beta: float = 1.0,
                    alpha_mod: float = 1.0, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` of Section 4: A (m x d), B (k x m).

    * ``gaussian``: ``A = alpha G_1``, ``B = beta G_2`` with G i.i.d. N(0, 1), drawn in that order from
      ``default_rng(seed)`` (Proposition 3.3; the corollaries take alpha = beta = 1).
    * ``identity``: ``A = [I_d; 0]``, ``B = sqrt(m/k) [I_k, 0]`` (Section 4.1); needs m >= max(d, k).
    * ``modified-identity``: ``A[j, j] = 1`` (S1 = the first d rows), ``B[i, d + i] = alpha_mod``
      (S2 = the next k columns); ``BA = 0``, ``sigma(A) = 1``, ``sigma(B) = alpha_mod`` (Section 4.2;
      reading 17 of :mod:`convtool.analysis.zou_long_gu`); needs m >= d + k.
    """
    for name, v in (("d", d), ("k", k), ("m", m)):
        if int(v) != v or v < 1:
            raise InputError(f"{name} must be a positive integer, got {v!r}")
    d, k, m = int(d), int(k), int(m)
    if kind == "gaussian":
        for name, v in (("--alpha", alpha), ("--beta", beta)):
            if not (np.isfinite(v) and v > 0):
                raise InputError(f"{name} must be a positive number, got {v!r}")
        rng = np.random.default_rng(seed)
        A = float(alpha) * rng.standard_normal((m, d))
        B = float(beta) * rng.standard_normal((k, m))
        return A, B
    if kind == "identity":
        if m < max(d, k):
            raise InputError(f"identity transforms need m >= max(d, k) = {max(d, k)}, got m = {m}")
        A = np.zeros((m, d))
        A[np.arange(d), np.arange(d)] = 1.0
        B = np.zeros((k, m))
        B[np.arange(k), np.arange(k)] = np.sqrt(m / k)
        return A, B
    if kind == "modified-identity":
        if not (np.isfinite(alpha_mod) and alpha_mod > 0):
            raise InputError(f"--alpha-mod must be a positive number, got {alpha_mod!r}")
        if m < d + k:
            raise InputError(f"modified identity transforms need m >= d + k = {d + k} (Section 4.2), got m = {m}")
        A = np.zeros((m, d))
        A[np.arange(d), np.arange(d)] = 1.0
        B = np.zeros((k, m))
        B[np.arange(k), d + np.arange(k)] = float(alpha_mod)
        return A, B
    raise InputError(f"unknown transform {kind!r}; choose one of {', '.join(TRANSFORMS)}")


def hidden_init(depth: int, m: int, *, skip: bool = True, hidden_std: float | None = None, seed=0,
                R: int = 1) -> np.ndarray:
    """Initial hidden weights (R, L, m, m): zeros for the ResNet (Algorithm 1); for ``skip=False`` i.i.d.
    N(0, hidden_std^2) (default 1/sqrt(m); the paper gives no variance), seed r of the batch from
    ``default_rng(seed + r)``."""
    depth, m, R = int(depth), int(m), int(R)
    if depth < 1:
        raise InputError(f"depth L must be >= 1, got {depth}")
    if skip and hidden_std is None:
        return np.zeros((R, depth, m, m))
    std = 1.0 / np.sqrt(m) if hidden_std is None else float(hidden_std)
    if not (np.isfinite(std) and std >= 0):
        raise InputError(f"--hidden-std must be a non-negative number, got {hidden_std!r}")
    out = np.empty((R, depth, m, m))
    for r in range(R):
        out[r] = std * np.random.default_rng(int(seed) + r).standard_normal((depth, m, m))
    return out


def transform_spectra(A, B) -> dict:
    """``lambda_A = ||A||_2``, ``mu_A = sqrt(lambda_min(A^T A))`` (0 when m < d), ``lambda_B``, ``mu_B =
    sqrt(lambda_min(B B^T))`` (0 when m < k), from SVDs (relative error eps cond, not eps cond^2)."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    m, d = A.shape
    k = B.shape[0]
    sa = np.linalg.svd(A, compute_uv=False)
    sb = np.linalg.svd(B, compute_uv=False)
    return {"lambda_A": float(sa[0]), "mu_A": float(sa[-1]) if m >= d else 0.0,
            "lambda_B": float(sb[0]), "mu_B": float(sb[-1]) if m >= k else 0.0}


def _batched(a, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.array(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} is not a numeric array ({exc})") from None
    if arr.ndim == ndim:
        arr = arr[None]
    if arr.ndim != ndim + 1 or 0 in arr.shape:
        raise InputError(f"{name} must be a non-empty {ndim}-D array (or batched {ndim + 1}-D), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} has non-finite entries (NaN or inf)")
    return arr


class LinearResNet:
    """``U = B (I + W_L) ... (I + W_1) A`` (``skip=True``) or ``B W_L ... W_1 A`` (``skip=False``), batched.

    Engine model (:mod:`convtool.numeric.models` interface); the state is one array ``(W,)``, W of shape
    (R, L, m, m) with ``W[:, l - 1] = W_l``.

    * ``product(state)`` -> ``U^T`` (R, d, k);
    * ``param_grads(state, Gl)`` -> ``(grad,)``, ``grad[:, l-1] = [B P_{>l}]^T Gl^T [P_{<l} A]^T`` (Lemma A.1's
      proof), ``P_{>l} = (I + W_L) ... (I + W_{l+1})``;
    * ``step`` is plain GD ``W_l - eta grad_l`` (Algorithm 1); ``grad_sq`` the squared norm summed over layers.

    Parameters
    ----------
    A, B : array
        (m, d), (k, m), or batched (R, m, d), (R, k, m) (one pair per seed). Copied.
    W0 : array, optional
        Initial hidden weights (L, m, m) or (R, L, m, m); default zeros (needs ``depth``).
    depth : int, optional
        L, when W0 is not given.
    skip : bool
        True for the ResNet, False for the standard deep linear network (then W0 is required).
    """

    def __init__(self, A, B, W0=None, *, depth: int | None = None, skip: bool = True):
        A = _batched(A, "A", 2)
        B = _batched(B, "B", 2)
        if A.shape[1] != B.shape[2]:
            raise InputError(f"A is (m, d) = {A.shape[1:]} and B (k, m) = {B.shape[1:]}: their m disagree "
                             f"({A.shape[1]} vs {B.shape[2]})")
        self.width, self.d = A.shape[1], A.shape[2]
        self.k = B.shape[1]
        self.skip = bool(skip)
        if W0 is None:
            if not self.skip:
                raise InputError("the standard deep linear network (--no-skip) needs initial hidden weights W0")
            if depth is None or int(depth) != depth or depth < 1:
                raise InputError(f"depth L must be a positive integer, got {depth!r}")
            W0 = np.zeros((1, int(depth), self.width, self.width))
        W0 = np.array(W0, dtype=np.float64)
        if W0.ndim == 3:
            W0 = W0[None]
        if W0.ndim != 4 or W0.shape[2:] != (self.width, self.width) or W0.shape[1] < 1:
            raise InputError(f"hidden weights W must be (L, m, m) or (R, L, m, m) with m = {self.width}, got shape "
                             f"{W0.shape}")
        if not np.isfinite(W0).all():
            raise InputError("hidden weights W have non-finite entries (NaN or inf)")
        if depth is not None and W0.shape[1] != int(depth):
            raise InputError(f"W holds L = {W0.shape[1]} layers but depth {depth} was given")
        Rs = {A.shape[0], B.shape[0], W0.shape[0]}
        R = max(Rs)
        if not Rs <= {1, R}:
            raise InputError(f"A, B, W disagree on the batch size R: {A.shape[0]}, {B.shape[0]}, {W0.shape[0]}")
        self.R = R
        self.L = W0.shape[1]
        self.A = np.broadcast_to(A, (R,) + A.shape[1:]).copy()
        self.B = np.broadcast_to(B, (R,) + B.shape[1:]).copy()
        self.W_0 = np.broadcast_to(W0, (R,) + W0.shape[1:]).copy()
        # the loss sees W = U^T of shape (d, k): the engine's (n, m)
        self.n, self.m = self.d, self.k
        self.name = "linear resnet" if self.skip else "deep linear (no skip)"
        self._cache = None
        self._gsq = None

    # -- state ---------------------------------------------------------------------------------
    def init_state(self) -> tuple:
        return (self.W_0.copy(),)

    def _forward(self, state):
        c = self._cache
        if c is not None and c[0] is state[0]:
            return c[1]
        W = state[0]
        if W.shape != self.W_0.shape:
            raise InputError(f"state W has shape {W.shape}; this model has {self.W_0.shape}")
        R, L, m, d = self.R, self.L, self.width, self.d
        F = np.empty((R, L + 1, m, d))
        F[:, 0] = self.A
        for l in range(L):
            WF = W[:, l] @ F[:, l]
            F[:, l + 1] = F[:, l] + WF if self.skip else WF
        U = self.B @ F[:, L]  # (R, k, d)
        self._cache = (W, (F, U))
        return F, U

    # -- engine interface ----------------------------------------------------------------------------
    def product(self, state) -> np.ndarray:
        """``W = U^T`` (R, d, k), ``U = B (I + W_L) ... (I + W_1) A``."""
        return _T(self._forward(state)[1])

    def param_grads(self, state, Gl) -> tuple:
        """``(grad,)`` with ``grad[:, l-1] = S_l^T E F_{l-1}^T``, E = Gl^T (k x d); linear in Gl (the minibatch
        gradient is this map at the minibatch's Gl)."""
        W = state[0]
        F, _ = self._forward(state)
        E = _T(np.asarray(Gl, dtype=np.float64))  # (R, k, d)
        R, L, m, k = self.R, self.L, self.width, self.k
        S = np.empty((R, L, k, m))
        S[:, L - 1] = self.B
        for l in range(L - 1, 0, -1):  # S_{l} = S_{l+1} (I + W_{l+1}), 0-based S[:, l-1]
            SW = S[:, l] @ W[:, l]
            S[:, l - 1] = S[:, l] + SW if self.skip else SW
        Fp = F[:, :L]  # F_{l-1}, (R, L, m, d)
        if self.d <= k:
            g = (_T(S) @ E[:, None]) @ _T(Fp)
        else:
            g = _T(S) @ (E[:, None] @ _T(Fp))
        return (g,)

    def step(self, state, grads, eta) -> tuple:
        e = np.broadcast_to(np.asarray(eta, dtype=np.float64), (self.R,))[:, None, None, None]
        return (state[0] - e * grads[0],)

    def layer_grad_sq(self, grads) -> np.ndarray:
        """``||grad_l||_F^2`` (R, L), computed once per gradient array (shared by grad_sq and the theory)."""
        g = grads[0]
        c = self._gsq
        if c is not None and c[0] is g:
            return c[1]
        out = np.einsum("rlij,rlij->rl", g, g)
        self._gsq = (g, out)
        return out

    def grad_sq(self, state, grads) -> np.ndarray:
        return self.layer_grad_sq(grads).sum(axis=1)

    def full_weights(self, state) -> np.ndarray:
        """The hidden weights (R, L, m, m) (an array, so the engine's W1..WN layout is not used)."""
        return state[0].copy()

    def layer_norms(self, state) -> np.ndarray:
        """``||W_l||_F`` (R, L)."""
        W = state[0]
        return np.sqrt(np.einsum("rlij,rlij->rl", W, W))

    def round_off(self, state, norms=None) -> np.ndarray:
        """Estimated error of the computed U (R,): ``64 eps (L + 2) ||A||_F ||B||_F prod_l (1 + ||W_l||_F)``
        for the ResNet; ``64 eps (L + 2) ||A||_2 ||B||_2 prod_l ||W_l||_2`` for the no-skip network (spectral
        norms from an SVD of every layer: the Frobenius product would overstate it by m^(L/2)). A relative
        estimate for the rounding bands, not a proven bound."""
        if not self.skip:
            W = state[0]
            sw = np.linalg.svd(W, compute_uv=False)[..., 0]
            sa = np.linalg.svd(self.A, compute_uv=False)[..., 0]
            sb = np.linalg.svd(self.B, compute_uv=False)[..., 0]
            return 64 * EPS * (self.L + 2) * sa * sb * np.prod(sw, axis=1)
        norms = self.layer_norms(state) if norms is None else norms
        fa = np.sqrt(np.einsum("rij,rij->r", self.A, self.A))
        fb = np.sqrt(np.einsum("rij,rij->r", self.B, self.B))
        return 64 * EPS * (self.L + 2) * fa * fb * np.prod(1.0 + norms, axis=1)


class MinibatchSampler:
    """Algorithm 1's stochastic gradient for the engine's ``stochastic=`` hook, one stream per seed.

    At every call ``(t, obs)`` each seed r draws a fresh uniform subset of ``b`` of the n samples without
    replacement (``rng_r.choice(n, b, replace=False)``; the streams are ``SeedSequence(sgd_seed).spawn(R)``)
    and returns the model's parameter gradients at the minibatch loss gradient
    ``Gl_B = (n/b) X_B^T (X_B W - Y_B)`` (unbiased for the full ``X^T (X W - Y)``). A batch of all n samples
    is the full gradient: then the engine's own ``obs.grads`` are returned, so ``b = n`` is GD bit for bit.
    ``per_epoch=True`` is a different algorithm (shuffle once per epoch, consecutive blocks), which the
    proofs of Theorems 3.6 and 3.8 do not cover. ``history`` records per step ``<grad, G>`` and ``||G||^2``
    (the theory's Lemma A.2 check between SGD iterates).
    """

    def __init__(self, X, Y, model, batch: int, sgd_seed: int = 0, per_epoch: bool = False):
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        self.n = X.shape[0]
        if int(batch) != batch or not 1 <= batch <= self.n:
            raise InputError(f"--batch must be an integer in 1..n = {self.n}, got {batch!r}")
        self.X, self.Y, self.model = X, Y, model
        self.b, self.seed, self.per_epoch = int(batch), int(sgd_seed), bool(per_epoch)
        self.R = model.R
        self.rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(self.seed).spawn(self.R)]
        self._perm = [None] * self.R
        self._pos = [self.n] * self.R
        self.history: list = []

    def indices(self) -> np.ndarray:
        """The next minibatch of every seed (R, b)."""
        out = np.empty((self.R, self.b), dtype=np.int64)
        for r, rng in enumerate(self.rngs):
            if not self.per_epoch:
                out[r] = rng.choice(self.n, size=self.b, replace=False)
                continue
            if self._pos[r] + self.b > self.n:
                self._perm[r], self._pos[r] = rng.permutation(self.n), 0
            out[r] = self._perm[r][self._pos[r]: self._pos[r] + self.b]
            self._pos[r] += self.b
        return out

    def batch_loss_grad(self, W, idx) -> np.ndarray:
        """``(n/b) X_B^T (X_B W - Y_B)`` (R, d, k) for the index sets idx (R, b), W (R, d, k)."""
        XB = self.X[idx]  # (R, b, d)
        YB = self.Y[idx]
        res = XB @ W - YB
        return (self.n / idx.shape[1]) * (_T(XB) @ res)

    def __call__(self, t, obs):
        if self.b == self.n and not self.per_epoch:
            G = obs.grads
        else:
            G = self.model.param_grads(obs.state, self.batch_loss_grad(obs.W, self.indices()))
        g, s = obs.grads[0], G[0]
        self.history.append((np.einsum("rlij,rlij->r", g, s), np.einsum("rlij,rlij->r", s, s)))
        return G

    def to_dict(self) -> dict:
        return {"algorithm": "per-epoch shuffling (not covered by Theorems 3.6, 3.8)" if self.per_epoch
                else "Algorithm 1: fresh uniform b-subset without replacement each step, gradient scaled n/b",
                "batch": self.b, "n": self.n, "sgd_seed": self.seed}
