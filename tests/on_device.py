"""The device the suite runs on (EXPLAINER_TEST_DEVICE, default the CPU) and the tolerances that hold there."""

import os

TEST_DEVICE = os.environ.get("EXPLAINER_TEST_DEVICE", "cpu")


def tolerance(cpu: float, gpu: float = 1e-2) -> float:
    """A relative tolerance for the test device: tight on the CPU; on a GPU, cuDNN picks algorithms per shape and
    TF32 rounds matmuls, so the same values from two batch sizes agree only to about 1e-2."""
    return cpu if TEST_DEVICE == "cpu" else gpu
