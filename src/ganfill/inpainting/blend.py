"""Put the generated content G(z^) into the hole of the input image.

* ``poisson`` (default; Yeh et al. 2017, Eq. 6, after Perez et al. 2003): inside the hole the
  result has the same discrete Laplacian as G(z^), and it agrees with the known pixels at the
  hole border.  The sparse linear system is solved exactly (direct LU, float64), one
  factorisation per distinct mask, shared by all channels and all images with that mask.
* ``paste``: the formula of the source report, ``LC = G(z) * MASK + (1 - MASK) * x`` where its
  MASK is the hole (= 1 - our mask); no seam correction.

Both keep the known pixels BIT-EXACT equal to the input and clamp the filled pixels to [-1, 1].

Discretisation of the Poisson problem, per channel: for every hole pixel p with in-image
4-neighbours N(p),  sum_{q in N(p)} (f_p - f_q) = sum_{q in N(p)} (g_p - g_q),  where g is the
generated image and f_q = image_q for known q.  Neighbours outside the image are simply left
out (zero normal derivative, i.e. Neumann, at the image border), so hole pixels on the image
border only use their in-image neighbours.  The system is non-singular as soon as the mask has
one known pixel; for an all-missing mask the solution is only defined up to a constant and
``blend`` returns the generated image itself.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from ganfill.core.constants import BLENDS
from ganfill.core.errors import GanfillError

# the four neighbour offsets (dy, dx)
_OFFSETS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _shift_valid(h: int, w: int, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices p and their neighbours q = p + (dy, dx) for every p whose q is in-image."""
    ys, xs = np.mgrid[0:h, 0:w]
    qy, qx = ys + dy, xs + dx
    ok = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
    return (ys * w + xs)[ok], (qy * w + qx)[ok]


class _PoissonSystem:
    """The factorised system for one (H, W) mask; ``solve`` fills the hole of many images."""

    def __init__(self, known: np.ndarray):
        # known: (H, W) bool
        h, w = known.shape
        self.h, self.w = h, w
        self.hole = ~known.ravel()  # (H*W,)
        self.hole_idx = np.flatnonzero(self.hole)  # (M,)
        m = self.hole_idx.size
        index = np.full(h * w, -1, dtype=np.int64)
        index[self.hole_idx] = np.arange(m)
        self.index = index
        self.pairs = []  # per direction: (p, q) flat indices with p in the hole, q in-image
        rows, cols = [], []
        degree = np.zeros(m, dtype=np.float64)
        for dy, dx in _OFFSETS:
            p, q = _shift_valid(h, w, dy, dx)
            sel = self.hole[p]
            p, q = p[sel], q[sel]
            self.pairs.append((p, q))
            degree[index[p]] += 1.0  # p is unique within one direction
            both = self.hole[q]  # neighbour also unknown -> off-diagonal -1
            rows.append(index[p[both]])
            cols.append(index[q[both]])
        rows = np.concatenate(rows + [np.arange(m)])
        cols = np.concatenate(cols + [np.arange(m)])
        vals = np.concatenate([-np.ones(rows.size - m), degree])
        A = sp.csc_matrix((vals, (rows, cols)), shape=(m, m))  # 5-point Laplacian on the hole
        self.lu = spla.splu(A)

    def solve(self, fake: np.ndarray, image: np.ndarray) -> np.ndarray:
        """fake, image: (K, H*W) float64 -> (K, M) values of the hole pixels."""
        m = self.hole_idx.size
        rhs = np.zeros((m, fake.shape[0]), dtype=np.float64)  # (M, K)
        for p, q in self.pairs:
            ip = self.index[p]
            # guidance: the Laplacian of the generated image
            rhs[ip] += (fake[:, p] - fake[:, q]).T  # ip is unique within one direction
            # Dirichlet data: known neighbours move to the right-hand side
            known_q = ~self.hole[q]
            rhs[ip[known_q]] += image[:, q[known_q]].T
        return self.lu.solve(rhs).T  # (K, M)


def _check(fake: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if fake.ndim != 4 or fake.shape != image.shape:
        raise GanfillError(f"fake {tuple(fake.shape)} and image {tuple(image.shape)} must both be (N, C, H, W)")
    if not bool(torch.isfinite(fake).all()):
        raise GanfillError("the fill holds NaN or infinite values: nothing was blended (the model or the search diverged)")
    n, _, h, w = image.shape
    if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[2:] != (h, w) or mask.shape[0] not in (1, n):
        raise GanfillError(f"mask must be (N, 1, H, W) or (1, 1, H, W) for images {tuple(image.shape)}, got {tuple(mask.shape)}")
    return mask.expand(n, 1, h, w)


def paste(fake: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Known pixels from ``image`` (bit-exact), hole pixels from ``fake`` clamped to [-1, 1]."""
    mask = _check(fake, image, mask)
    return torch.where(mask > 0.5, image, fake.clamp(-1.0, 1.0))


def poisson(fake: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Poisson blending (Yeh et al. Eq. 6): Laplacian of ``fake`` inside the hole, ``image`` outside."""
    mask = _check(fake, image, mask)
    n, c, h, w = image.shape
    fake64 = fake.detach().cpu().double().numpy().reshape(n, c, h * w)
    image64 = image.detach().cpu().double().numpy().reshape(n, c, h * w)
    known = mask.detach().cpu().numpy()[:, 0] > 0.5  # (N, H, W) bool
    filled = fake64.copy()
    groups: dict[bytes, list[int]] = {}  # images sharing a mask share one factorisation
    for i in range(n):
        groups.setdefault(np.packbits(known[i]).tobytes(), []).append(i)
    for members in groups.values():
        k = known[members[0]]
        if k.all():
            continue  # nothing to fill
        if not k.any():
            continue  # all missing: defined up to a constant; keep the generated image
        system = _PoissonSystem(k)
        sol = system.solve(fake64[members].reshape(-1, h * w), image64[members].reshape(-1, h * w))
        filled[np.ix_(members, range(c), system.hole_idx)] = sol.reshape(len(members), c, -1)
    filled_t = torch.from_numpy(filled.reshape(n, c, h, w)).to(device=image.device, dtype=image.dtype)
    return torch.where(mask > 0.5, image, filled_t.clamp(-1.0, 1.0))


def blend(fake: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, *, method: str = "poisson") -> torch.Tensor:
    """Fill the hole of ``image`` with ``fake``.

    fake, image: (N, C, H, W) in [-1, 1]; mask: (N, 1, H, W) or (1, 1, H, W), 1 = known.
    Returns (N, C, H, W): known pixels bit-exact from ``image``, hole pixels in [-1, 1].
    ``method``: ``poisson`` (default, seamless) or ``paste`` (the source report's formula).
    """
    if method == "poisson":
        return poisson(fake, image, mask)
    if method == "paste":
        return paste(fake, image, mask)
    raise GanfillError(f"unknown blend {method!r}: choose one of {', '.join(BLENDS)}")
