"""A realism judge from outside the package: a nearest-centroid classifier on the hole's colour statistics."""

import numpy as np
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.neighbors import NearestCentroid

from ganfill.evaluation.judges import register_judge


def hole_stats(originals, completed, holes, *, seed=0, runtime=None, folds=5):
    n = len(originals)
    if n < folds:
        return float("nan")

    def features(images):  # (N, 6): the mean and spread of each colour over the hole
        return np.stack([np.concatenate([im[h].mean(0), im[h].std(0)]) for im, h in zip(images, holes)])

    x = np.concatenate([features(originals), features(completed)])
    y = np.repeat([0, 1], n)
    groups = np.tile(np.arange(n), 2)  # an image's original and completion on the same side of a split
    return float(cross_val_score(NearestCentroid(), x, y, groups=groups, cv=GroupKFold(folds)).mean())


register_judge("hole_stats", hole_stats)
