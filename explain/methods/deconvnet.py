"""Zeiler & Fergus' deconvnet (ECCV 2014): project one activation back to pixel space.

The model is traced with torch.fx once; a forward pass records every intermediate tensor and
the max-pooling switches; the signal then goes back down the graph node by node:

- max-pooling: each value goes back to the position its switch recorded; overlapping windows
  add their contributions (scatter-add, not `max_unpool2d`, which would overwrite them);
- ReLU: the signal coming down is rectified (the forward activation plays no part);
- convolution: the transposed convolution with the same filters and no bias;
- BatchNorm (eval): its linear part, a per-channel scale weight / sqrt(running_var + eps);
- addition (a residual connection): the signal goes down both paths and adds where they meet;
- shape-only and linear ops (flatten, average pooling, identity, dropout in eval): their
  vector-Jacobian product, which for a linear map is its transpose.

Anything else (a sigmoid, say) has no deconvnet rule and raises NotImplementedError.
"""

from __future__ import annotations

import contextlib
import operator
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from explain.methods.layers import spatial_layers
from models.devices import on_model_device
from models.lock import lock_for

_traces: weakref.WeakKeyDictionary[nn.Module, fx.GraphModule] = weakref.WeakKeyDictionary()


def traced(model: nn.Module) -> fx.GraphModule:
    """The model's fx graph (shares the model's parameters; traced once per model)."""
    if model not in _traces:
        _traces[model] = fx.symbolic_trace(model)
    return _traces[model]


def _path(node: fx.Node) -> str:
    """The module a node belongs to: its target for a module call, else its innermost enclosing module."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack)).split("@")[0] if stack else ""


def output_node(gm: fx.GraphModule, layer: str) -> fx.Node:
    """The node whose value is the output of module `layer`: the last node inside it."""
    found = None
    for node in gm.graph.nodes:
        path = _path(node)
        if path == layer or path.startswith(layer + "."):
            found = node
    if found is None:
        raise ValueError(f"no module named {layer!r} in this model")
    return found


class _Recorder(fx.Interpreter):
    """Runs the graph up to `stop`, keeping every value and the switches of every max-pool."""

    def __init__(self, gm: fx.GraphModule, stop: fx.Node):
        super().__init__(gm)
        self.stop = stop
        self.values: dict[fx.Node, object] = {}
        self.switches: dict[fx.Node, torch.Tensor] = {}

    def run_node(self, n: fx.Node):
        if n.op == "call_module" and isinstance(self.module.get_submodule(n.target), nn.MaxPool2d):
            pool = self.module.get_submodule(n.target)
            x = self.env[n.args[0]]
            out, idx = F.max_pool2d(
                x, pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode, return_indices=True
            )
            self.switches[n] = idx
        else:
            out = super().run_node(n)
        self.values[n] = out
        if n is self.stop:
            raise _Stop
        return out


class _Stop(Exception):
    pass


def forward_to(model: nn.Module, x: torch.Tensor, layer: str) -> tuple[torch.Tensor, _Recorder]:
    """Run the model on `x` only as far as `layer`; return that output and the recording."""
    with lock_for(model):
        gm = traced(model)
        rec = _Recorder(gm, output_node(gm, layer))
        with contextlib.suppress(_Stop):
            rec.run(on_model_device(model, x))
    return rec.values[rec.stop], rec


def _transposed_conv(conv: nn.Conv2d, signal: torch.Tensor, in_shape: torch.Size) -> torch.Tensor:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation
    oh = in_shape[-2] - ((signal.shape[-2] - 1) * sh - 2 * ph + dh * (kh - 1) + 1)
    ow = in_shape[-1] - ((signal.shape[-1] - 1) * sw - 2 * pw + dw * (kw - 1) + 1)
    return F.conv_transpose2d(
        signal, conv.weight, None, conv.stride, conv.padding, (oh, ow), conv.groups, conv.dilation
    )


def _unpool(signal: torch.Tensor, switches: torch.Tensor, in_shape: torch.Size) -> torch.Tensor:
    n, c = signal.shape[:2]
    out = torch.zeros(n, c, in_shape[-2] * in_shape[-1], dtype=signal.dtype, device=signal.device)
    out.scatter_add_(2, switches.view(n, c, -1), signal.reshape(n, c, -1))
    return out.view(n, c, *in_shape[-2:])


def _bn_linear(bn: nn.BatchNorm2d, signal: torch.Tensor) -> torch.Tensor:
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    return signal * scale.view(1, -1, 1, 1)


_LINEAR_MODULES = (nn.Identity, nn.Dropout, nn.Flatten, nn.AdaptiveAvgPool2d, nn.AvgPool2d)
_ADDS = {operator.add, operator.iadd, torch.add}
_RELUS = {F.relu, torch.relu}


def _vjp(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():
        xi = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(xi), xi, signal)
    return grad


def _down(
    gm: fx.GraphModule, rec: _Recorder, node: fx.Node, signal: torch.Tensor
) -> list[tuple[fx.Node, torch.Tensor]]:
    """The signals a node sends to its inputs."""
    args = node.args
    if node.op == "call_module":
        module = gm.get_submodule(node.target)
        src = args[0]
        if isinstance(module, nn.Conv2d):
            return [(src, _transposed_conv(module, signal, rec.values[src].shape))]
        if isinstance(module, nn.ReLU):
            return [(src, F.relu(signal))]
        if isinstance(module, nn.MaxPool2d):
            return [(src, _unpool(signal, rec.switches[node], rec.values[src].shape))]
        if isinstance(module, nn.BatchNorm2d):
            return [(src, _bn_linear(module, signal))]
        if isinstance(module, _LINEAR_MODULES):
            return [(src, _vjp(module, rec.values[src], signal))]
        raise NotImplementedError(f"no deconvnet rule for {type(module).__name__} ({node.target})")
    if node.op == "call_function":
        if node.target in _ADDS:
            return [(a, signal) for a in args if isinstance(a, fx.Node)]
        if node.target in _RELUS:
            return [(args[0], F.relu(signal))]
        if node.target in (torch.flatten, torch.reshape) or getattr(node.target, "__name__", "") in ("flatten", "view"):
            return [(args[0], signal.reshape(rec.values[args[0]].shape))]
        raise NotImplementedError(f"no deconvnet rule for {getattr(node.target, '__name__', node.target)}")
    if node.op == "call_method" and node.target in ("view", "reshape", "flatten"):
        return [(args[0], signal.reshape(rec.values[args[0]].shape))]
    raise NotImplementedError(f"no deconvnet rule for {node.op} {node.target}")


def project_down(model: nn.Module, rec: _Recorder, signal: torch.Tensor) -> torch.Tensor:
    """Send `signal` (shaped like the recorded layer output) down to the input; returns N x 3 x H x W."""
    gm = traced(model)
    pending: dict[fx.Node, torch.Tensor] = {rec.stop: signal}
    for node in reversed(list(gm.graph.nodes)):
        if node not in pending:
            continue
        s = pending.pop(node)
        if node.op == "placeholder":
            return s
        for src, down in _down(gm, rec, node, s):
            pending[src] = pending[src] + down if src in pending else down
    raise RuntimeError("the signal never reached the input")


def strongest_position(activation: torch.Tensor, channel: int) -> tuple[int, int]:
    """(row, column) of the largest value of `channel` in a 1 x C x H x W activation."""
    fmap = activation[0, channel]
    flat = int(fmap.argmax())
    return divmod(flat, fmap.shape[-1])


@torch.no_grad()
def reconstruct(
    model: nn.Module,
    image: torch.Tensor,
    layer: str,
    channel: int,
    position: tuple[int, int] | None = None,
    whole_channel: bool = False,
) -> torch.Tensor:
    """Project one activation of `layer` (or its whole `channel`) back to pixel space: 3 x H x W.

    `image` is 1 x 3 x H x W; `position=None` takes the channel's strongest activation. Every
    other activation of the layer is zeroed, the kept ones keep their value, so the result is
    linear in that value. Costs one forward pass (up to the layer) and one pass back down.
    """
    with lock_for(model):
        act, rec = forward_to(model, image[:1], layer)
        if not 0 <= channel < act.shape[1]:
            raise ValueError(f"{layer} has channels 0 to {act.shape[1] - 1}, not {channel}")
        signal = torch.zeros_like(act)
        if whole_channel:
            signal[0, channel] = act[0, channel]
        else:
            y, x = position if position is not None else strongest_position(act, channel)
            signal[0, channel, y, x] = act[0, channel, y, x]
        return project_down(model, rec, signal)[0].cpu()


@dataclass(frozen=True)
class Projection:
    """One channel's strongest activation projected back to pixels: the 3 x H x W projection (on the CPU), where
    that activation is on the layer's grid, its value, and its receptive field in image pixels as `TopActivation`
    gives it (a notebook review: the page cropped to it, the record did not say it)."""

    pixels: torch.Tensor
    position: tuple[int, int]
    value: float
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in image pixels, clipped to the image
    tile: tuple[int, int, int, int]  # the square the page's crop shows (Geometry.tile), past the image near its edge


@torch.no_grad()
def project_strongest(
    model: nn.Module, image: torch.Tensor, layer: str, channel: int, whole_channel: bool = False
) -> Projection:
    """The deconvnet projection of `channel`'s strongest activation at `layer` (or of the whole channel), with
    its position and value: what the Features page shows for one channel, as Zeiler & Fergus do."""
    with lock_for(model):
        act, _ = forward_to(model, image[:1], layer)
    if not 0 <= channel < act.shape[1]:
        raise ValueError(f"{layer} has channels 0 to {act.shape[1] - 1}, not {channel}")
    position = strongest_position(act, channel)
    pixels = reconstruct(model, image, layer, channel, position, whole_channel=whole_channel)
    geo, hw = geometry(model, layer), tuple(image.shape[-2:])
    value = float(act[0, channel, position[0], position[1]])
    return Projection(pixels, position, value, geo.box(position, hw), geo.tile(position, hw))


@dataclass(frozen=True)
class Geometry:
    """How a layer's grid sits on the input: unit (i, j) is centred at start + (i, j) * stride
    and sees a square of side `size` pixels (before clipping to the image)."""

    stride: int
    size: int
    start: float

    def field(self, position: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the unit's whole receptive field in image pixels, x1/y1 exclusive: a square of side
        `size`, which runs past the image for units near its edge."""
        (y, x), half = position, self.size / 2
        cy, cx = self.start + y * self.stride, self.start + x * self.stride
        return round(cx - half + 0.5), round(cy - half + 0.5), round(cx + half + 0.5), round(cy + half + 0.5)

    def box(self, position: tuple[int, int], image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the unit's receptive field in image pixels, clipped, x1/y1 exclusive."""
        (x0, y0, x1, y1), (h, w) = self.field(position), image_hw
        return max(0, x0), max(0, y0), min(w, x1), min(h, y1)

    def tile(self, position: tuple[int, int], image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """The square a tile shows for the unit: its clipped `box` made square (the longer side) by running past the
        image on the sides where the field runs past it, so an edge unit's patch keeps its shape (clipped and
        stretched, it was distorted) without shrinking the image inside a field far larger than it (a deep layer's
        field is 435 px on a 64-px input)."""
        fx0, fy0, fx1, fy1 = self.field(position)
        x0, y0, x1, y1 = self.box(position, image_hw)
        side = max(x1 - x0, y1 - y0)

        def grow(lo: int, hi: int, past_lo: bool, past_hi: bool) -> tuple[int, int]:
            extra = side - (hi - lo)
            if past_lo and past_hi:
                return lo - extra // 2, hi + extra - extra // 2
            return (lo - extra, hi) if past_lo else (lo, hi + extra)

        x0, x1 = grow(x0, x1, fx0 < x0, fx1 > x1)
        y0, y1 = grow(y0, y1, fy0 < y0, fy1 > y1)
        return x0, y0, x1, y1


def box_text(box: tuple[int, int, int, int], image_hw: tuple[int, int]) -> str:
    """A receptive field's box in words, its pixel ranges inclusive: "x 11-37, y 15-41 of the 64 x 64 input" (a walk
    could not tell a bare (11, 15, 38, 42) from the (row, column) beside it)."""
    (x0, y0, x1, y1), (h, w) = box, image_hw
    return f"x {x0}–{x1 - 1}, y {y0}–{y1 - 1} of the {w} x {h} input"


def field_text(geo: Geometry, position: tuple[int, int], image_hw: tuple[int, int]) -> str:
    """A unit's receptive field in words: its whole side, from the layer's geometry (a walk read "64 x 64 pixels" for
    layer4's 435: the side said was its patch's, cut to the 64-pixel image), and the part of it on the image, which
    its patch shows: "11 x 11 pixels: x 3–13, ..." inside the image; "99 x 99 pixels (more than the whole input), on
    the image x 7–63, y 0–49 of the 64 x 64 input, mid-grey past its edge" where it runs past (grey only where the
    patch is squared off: `Geometry.tile`)."""
    (h, w), box = image_hw, geo.box(position, image_hw)
    said = f"{geo.size} x {geo.size} pixels"
    if geo.field(position) == box:  # all of it on the image
        return f"{said}: {box_text(box, image_hw)}"
    said += " (more than the whole input)" if geo.size > max(h, w) else ""
    if box == (0, 0, w, h):
        return f"{said}, covering the whole {w} x {h} input"
    return f"{said}, on the image {box_text(box, image_hw)}" + (
        ", mid-grey past its edge" if geo.tile(position, image_hw) != box else ""
    )


def position_text(position: tuple[int, int], map_hw: tuple[int, int]) -> str:
    """A unit's place (row, column from 0) on its layer's grid in words, counted from 1 as the channel grid's tiles
    and their rows and columns are (a walk read a 0-based "row 1, column 1" beside "tile 1 (row 1, column 1)" and
    looked at the wrong cell), the map's size width x height as the input's: "row 8, column 7 of its 16 x 16 map"."""
    (y, x), (h, w) = position, map_hw
    return f"row {y + 1}, column {x + 1} of its {w} x {h} map"


def _kernel(module: nn.Module) -> tuple[int, int, int, int] | None:
    """(kernel, stride, padding, dilation) along one axis for conv and pooling layers."""
    if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):

        def first(v):
            return v[0] if isinstance(v, tuple) else v

        dilation = first(getattr(module, "dilation", 1))
        return first(module.kernel_size), first(module.stride), first(module.padding), dilation
    return None


def geometry(model: nn.Module, layer: str) -> Geometry:
    """Receptive field and stride of `layer`, from the traced graph (the standard recurrence:
    stride multiplies, size grows by (k - 1) * dilation * stride_in, centres shift by
    ((k - 1) / 2 - padding) * stride_in); paths that meet at an addition take the larger field."""
    gm = traced(model)
    stop = output_node(gm, layer)
    geo: dict[fx.Node, Geometry] = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            geo[node] = Geometry(1, 1, 0.0)
            continue
        inputs = [geo[a] for a in node.all_input_nodes if a in geo]
        if not inputs:
            continue
        g = max(inputs, key=lambda v: v.size)
        spec = _kernel(gm.get_submodule(node.target)) if node.op == "call_module" else None
        if spec:
            k, s, p, d = spec
            g = Geometry(g.stride * s, g.size + (k - 1) * d * g.stride, g.start + ((k - 1) * d / 2 - p) * g.stride)
        geo[node] = g
        if node is stop:
            return g
    raise ValueError(f"no module named {layer!r} in this model")


@dataclass(frozen=True)
class TopActivation:
    """One of a channel's strongest activations over an image set, with its projection and patch box."""

    channel: int
    image_index: int
    position: tuple[int, int]
    value: float
    reconstruction: torch.Tensor  # 3 x H x W
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in image pixels, clipped to the image
    tile: tuple[int, int, int, int]  # the square its tiles show (Geometry.tile), past the image near its edge


@torch.no_grad()
def channel_maxima(
    model: nn.Module,
    images: torch.Tensor,
    layer: str,
    channels: Sequence[int],
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For every image and channel, the largest activation and its flat position: two N x len(channels)
    tensors. The forward pass stops at `layer`, so the scan costs less than classifying the images."""
    values, where = [], []
    idx = torch.as_tensor(list(channels))
    for i in range(0, len(images), batch_size):
        with lock_for(model):
            act, _ = forward_to(model, images[i : i + batch_size], layer)
        flat = act[:, idx].flatten(2)
        v, w = flat.max(dim=2)
        values.append(v)  # kept on the model's device: one copy to the CPU at the end, no sync per batch
        where.append(w)
        if progress:
            progress(min(i + batch_size, len(images)), len(images))
    return torch.cat(values).cpu(), torch.cat(where).cpu()


def top_activations(
    model: nn.Module,
    images: torch.Tensor,
    layer: str,
    channels: Sequence[int],
    k: int = 9,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> dict[int, list[TopActivation]]:
    """Per channel, its `k` strongest activations over `images` (N x 3 x H x W), one per image as in
    the paper's Figure 2, strongest first, each with its reconstruction and receptive-field box."""
    values, where = channel_maxima(model, images, layer, channels, batch_size, progress)
    geo = geometry(model, layer)
    width = forward_to(model, images[:1], layer)[0].shape[-1]
    hw = tuple(images.shape[-2:])
    out: dict[int, list[TopActivation]] = {}
    for j, c in enumerate(channels):
        best = values[:, j].topk(min(k, len(images))).indices
        out[c] = []
        for n in best.tolist():
            pos = divmod(int(where[n, j]), width)
            rec = reconstruct(model, images[n : n + 1], layer, c, pos)
            out[c].append(TopActivation(c, n, pos, float(values[n, j]), rec, geo.box(pos, hw), geo.tile(pos, hw)))
    return out


def feature_layers(model: nn.Module, inputs: torch.Tensor) -> tuple[list[str], str]:
    """The layers with feature maps, and the default one to inspect: the last of the top two levels of
    the module tree whose receptive field is at most half the image (layer2 of a ResNet-18 at 224
    pixels), so a unit's patch is a part of the picture, not all of it."""
    names = list(dict.fromkeys(layer.name for layer in spatial_layers(model, inputs)))
    half = inputs.shape[-1] / 2
    local = [n for n in names if n.count(".") <= 1 and geometry(model, n).size <= half]
    return names, (local or names)[-1]


def outline_layers(names: list[str], default: str) -> list[str]:
    """The layers a first look lists: the top two levels of the module tree (a ResNet's stem layers, blocks and
    stages; a VGG's layers), without the convolutions, BatchNorm and ReLU inside each block (a ResNet-18 has 79
    layers with feature maps, 17 of them at these levels), and `default` (`feature_layers`' choice) wherever it is."""
    return [n for n in names if n.count(".") <= 1 or n == default]


def tiles_with(order: list[int], channel: int, tiles: int = 32) -> tuple[list[int], str]:
    """The channels a feature-map grid of `tiles` shows (the strongest first, `order`; `channel` in the last tile
    when it is not among them) and what they are, in words: the strongest listed, then which tile is `channel`,
    counted from 1 by rows of 8. A chosen channel outside the strongest is not listed among them (a walk read it
    named as one of the 32 strongest, then "not among the 32 strongest")."""
    shown = order[:tiles]
    listed = "the {} channels with the strongest activations, strongest first: {}"
    if channel not in shown:
        return [*shown[:-1], channel], (
            listed.format(len(shown) - 1, ", ".join(map(str, shown[:-1])))
            + f"; then the chosen channel, {channel}, which is not among the {tiles} strongest, in the last tile, "
            "framed in magenta."
        )
    place = shown.index(channel)
    return shown, (
        listed.format(len(shown), ", ".join(map(str, shown)))
        + f". The chosen channel, {channel}, is tile {place + 1} (row {place // 8 + 1}, column {place % 8 + 1}), "
        "framed in magenta."
    )


def silent_note(channel: int, value: float) -> str:
    """One line when the chosen channel does not fire on the image (its strongest activation is 0 or below), else
    "": its projection is then flat grey and the box marks no real peak (a walk read the grey square as broken)."""
    if value > 0:
        return ""
    return (
        f"Channel {channel} does not fire on this image: its strongest activation is {value:.3g}, so there is "
        "nothing to project (the projection is flat grey) and the box marks no peak. Choose another channel, or "
        "another image."
    )


def enclosing_layer(name: str, shown: list[str]) -> str:
    """The layer of `shown` that holds `name` most closely (layer2.0.bn1 -> layer2.0), else the first shown: where a
    layer list that stops listing `name` puts the choice (a walk's choice fell back to the page's default)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        if ".".join(parts[:cut]) in shown:
            return ".".join(parts[:cut])
    return shown[0]
