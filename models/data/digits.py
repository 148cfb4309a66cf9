"""scikit-learn's handwritten digits (1,797 real 8 x 8 scans, shipped with the package): a fixed,
stratified train/test split as tensors, optionally upsampled for convolutional networks."""

from __future__ import annotations

from functools import cache

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

TEST_SIZE = 497  # 1,300 training images, 497 held-out
SPLIT_SEED = 0


@cache
def raw_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test) as scanned: N x 1 x 8 x 8 in [0, 1], the fixed stratified split."""
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0  # N x 1 x 8 x 8 in [0, 1]
    y = torch.tensor(data.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(
        range(len(y)), test_size=TEST_SIZE, stratify=y.numpy(), random_state=SPLIT_SEED
    )
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


def digits(size: int = 8, standardise: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test): images N x 1 x size x size, standardised with the
    training set's mean and standard deviation (or left in [0, 1]); labels 0-9."""
    x_tr, y_tr, x_te, y_te = raw_split()
    if size != 8:
        x_tr = F.interpolate(x_tr, size=(size, size), mode="bilinear", align_corners=False)
        x_te = F.interpolate(x_te, size=(size, size), mode="bilinear", align_corners=False)
    if not standardise:
        return x_tr, y_tr, x_te, y_te
    mean, std = x_tr.mean(), x_tr.std()
    return (x_tr - mean) / std, y_tr, (x_te - mean) / std, y_te
