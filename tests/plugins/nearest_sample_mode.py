"""A mode from outside the package: no search, the best of 16 samples of the prior by the context."""

import torch

from ganfill.core.images import to_tensor, to_uint8
from ganfill.inpainting.inpainter import Completion, Sharp, blend_fill, initial_z, register_mode


class NearestSample(Sharp):
    mode = "nearest-sample"

    def __post_init__(self):
        super().__post_init__()
        self.steps = 0  # no search

    def __call__(self, images, known, *, seed=0, callback=None):
        x, m = to_tensor(images), torch.from_numpy(known).float()[:, None]  # (N, C, R, R), (N, 1, R, R)
        z = initial_z(self.prior, images, known, restarts=16, seed=seed)  # (N, 16, z_dim)
        with torch.no_grad():
            fakes = self.prior.decode(z.flatten(0, 1)).view(len(x), 16, *x.shape[1:])  # (N, 16, C, R, R)
        err = ((fakes - x[:, None]).abs() * m[:, None]).sum(dim=(2, 3, 4))  # (N, 16)
        best = fakes[torch.arange(len(x)), err.argmin(1)]  # (N, C, R, R)
        completed, seconds = blend_fill(best, images, known, blends=self.blends)
        return Completion(fake=to_uint8(best), completed=completed, result=None, search_seconds=0.0, blend_seconds=seconds)


register_mode(
    "nearest-sample",
    lambda s: NearestSample(s.gan().prior(s.runtime), s.config, s.blends, s.files(s.model)),
    help="the best of 16 prior samples, no search",
)
