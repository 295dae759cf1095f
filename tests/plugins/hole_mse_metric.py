"""A metric from outside the package: mean squared error over the hole, in grey levels squared."""

import numpy as np

from ganfill.evaluation.metrics import register_metric


def mse_hole(truth, test, hole):
    return float(np.square(truth[hole].astype(np.float64) - test[hole]).mean())


register_metric("mse_hole", mse_hole)
