"""Occlusion sensitivity as in Zeiler & Fergus' Figure 7: slide a grey square over the image and
watch (b) a feature map's total activation, (d) a class's probability, (e) the most probable label (the figure's
letters)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explain.methods.deconvnet import output_node, traced
from models.devices import on_model_device
from models.lock import lock_for


@dataclass(frozen=True)
class OcclusionMaps:
    """One value per square position (rows x cols), the square's top-left corners in `corners`."""

    activation: np.ndarray  # total activation of the chosen feature map
    probability: np.ndarray  # probability of the chosen class
    label: np.ndarray  # index of the most probable class
    corners: tuple[np.ndarray, np.ndarray]  # y and x of each row / column's top-left corner

    def flat_note(self, window: int, side: int, class_name: str) -> str:
        """Why the probability map is flat, in one line, or "": no position of the square moves p(class) by a
        point, so the model still finds the class with the square anywhere, and no square is 'the worst'."""
        spread = float(self.probability.max() - self.probability.min())
        if spread >= 0.01:
            return ""
        return (
            f"p({class_name}) stays within {spread:.1%} wherever the {window}-pixel square goes: the model still "
            f"finds the class with any {window} x {window} patch of this {side}-pixel image hidden, so no position "
            "stands out. A larger square may find the part it needs."
        )

    def worst_square(self, window: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the `window`-pixel square whose occlusion lowers the class's probability most (the
        first such position in row order on a tie)."""
        r, c = np.unravel_index(np.argmin(self.probability), self.probability.shape)
        y, x = int(self.corners[0][r]), int(self.corners[1][c])
        return x, y, x + window, y + window


MAX_POSITIONS = 1024  # forward passes per map: about 30 s for ResNet-18 at 224 px on 2 CPU cores


def min_stride(size: int, window: int, max_positions: int = MAX_POSITIONS) -> int:
    """The smallest step that keeps a `size` x `size` image within `max_positions` square positions."""
    per_axis = max(1, int(max_positions**0.5) - 1)  # positions() may add one flush with the edge
    return max(1, -(-max(0, size - window) // per_axis))


def check_occlusion(shape: tuple[int, int], window: int, stride: int, max_positions: int = MAX_POSITIONS) -> int:
    """The number of square positions over an image of `shape` (H, W); ValueError when the square or
    the step is out of range or the map would take more than `max_positions` forward passes."""
    size = max(shape)
    if not 1 <= window <= min(shape):
        raise ValueError(f"The square must be 1 to {min(shape)} pixels wide (the model's input is {min(shape)}).")
    if stride < 1:
        raise ValueError("The step must be at least one pixel.")
    n = len(positions(shape[0], window, stride)) * len(positions(shape[1], window, stride))
    if n > max_positions:
        raise ValueError(
            f"That is {n:,} positions of the square; at most {max_positions:,} are allowed. "
            f"Use a step of {min_stride(size, window, max_positions)} pixels or more."
        )
    return n


def positions(size: int, window: int, stride: int) -> np.ndarray:
    """Top-left corners along one axis: every `stride` pixels, the last one flush with the edge."""
    last = max(0, size - window)
    return np.unique(np.append(np.arange(0, last + 1, stride), last))


@torch.no_grad()
def occlusion_sensitivity(
    model: nn.Module,
    x: torch.Tensor,
    layer: str,
    channel: int,
    target: int,
    window: int,
    stride: int,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> OcclusionMaps:
    """Occlude `x` (1 x 3 x H x W, normalised) with a `window`-pixel square of zeros (the mean
    colour: grey) at every `stride`, recording the layer's channel sum and the classifier's output.
    ValueError (from `check_occlusion`) when the map would take more than MAX_POSITIONS passes."""
    check_occlusion(tuple(x.shape[-2:]), window, stride)
    x = on_model_device(model, x)
    gm = traced(model)
    stop = output_node(gm, layer)
    ys, xs = positions(x.shape[-2], window, stride), positions(x.shape[-1], window, stride)
    grid = [(y, xx) for y in ys for xx in xs]
    acts, probs = [], []
    captured: list[torch.Tensor] = []

    def keep(node_value: torch.Tensor) -> None:
        captured.append(node_value[:, channel].sum(dim=(1, 2)))

    for i in range(0, len(grid), batch_size):
        chunk = grid[i : i + batch_size]
        batch = x.repeat(len(chunk), 1, 1, 1)
        for j, (y, xx) in enumerate(chunk):
            batch[j, :, y : y + window, xx : xx + window] = 0
        with lock_for(model):
            logits = _run_capturing(gm, stop, batch, keep)
        acts.append(captured.pop())
        probs.append(torch.softmax(logits.float(), 1))
        if progress:
            progress(min(i + batch_size, len(grid)), len(grid))
    p = torch.cat(probs).cpu()
    shape = (len(ys), len(xs))
    return OcclusionMaps(
        torch.cat(acts).cpu().numpy().reshape(shape),
        p[:, target].numpy().reshape(shape),
        p.argmax(1).numpy().reshape(shape),
        (ys, xs),
    )


def _run_capturing(gm, stop, batch, keep) -> torch.Tensor:
    """A full forward pass of the traced model that hands the `stop` node's value to `keep`."""
    import torch.fx as fx

    class Capture(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if n is stop:
                keep(out)
            return out

    return Capture(gm).run(batch)
