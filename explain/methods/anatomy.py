"""A network's anatomy for one input: every module it runs, in order, with its output shape, parameter count
and receptive field (size in input pixels, and the stride between neighbouring outputs, both measured at the
input). Found by running the network once with forward hooks, so it holds for any architecture in the zoo.

Receptive fields follow the standard recurrence (Araujo et al., Distill 2019): a layer with kernel k, stride s
and dilation d turns (size r, jump j) into (r + d(k-1)j, js). Each tensor carries the field of the module that
made it; a tensor made outside a module (a residual sum, a flatten) takes the largest field seen so far, which
for a residual block is its main path: the 1x1 shortcut sees less. A layer with no spatial output (after a
flatten) or a single output cell sees every cell of the last map: when those together cover the input, its
field is the whole image (AlexNet's classifier, the digits net after its last pool)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

WINDOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
ADAPTIVE = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


@dataclass(frozen=True)
class LayerRow:
    """One call of one module during the forward pass."""

    name: str  # dotted path in the model ("layer2.0.conv1")
    kind: str  # the module's class name
    leaf: bool  # has no child modules
    shape: tuple[int, ...]  # output shape without the batch dimension
    params: int  # parameters of the module and its children, counted once per module
    field: float  # receptive field size in input pixels (one side)
    jump: float  # input pixels between neighbouring outputs
    whole_image: bool  # every output sees the whole input (after global pooling)


def _pair(v) -> int:
    return int(v[0] if isinstance(v, tuple) else v)


def _next_field(module: nn.Module, field: float, jump: float, in_side: int, out_side: int) -> tuple[float, float]:
    if isinstance(module, WINDOWED):
        k, s, d = _pair(module.kernel_size), _pair(module.stride), _pair(getattr(module, "dilation", 1))
        return field + d * (k - 1) * jump, jump * s
    if isinstance(module, ADAPTIVE) and out_side and in_side:
        if out_side >= in_side:  # no pooling (or a repetition of cells): the field stays as it was
            return field, jump
        k = -(-in_side // out_side)  # the widest window the adaptive pool uses
        return field + (k - 1) * jump, jump * in_side / out_side
    return field, jump


@torch.no_grad()
def anatomy(model: nn.Module, x: torch.Tensor) -> list[LayerRow]:
    """The rows of `model`'s anatomy for the input batch `x` (N x C x H x W), in the order the modules finish.
    A model on the meta device gives its shapes without computing anything."""
    x = x.to(next(model.parameters()).device)
    side = max(int(x.shape[-1]), int(x.shape[-2]))
    last_map = [side]  # the side of the last spatial map: a layer after flattening sees all of its cells
    fields: dict[int, tuple[float, float, bool]] = {id(x): (1.0, 1.0, False)}
    keep: list[torch.Tensor] = [x]  # holds every tensor seen, so no id is reused during the pass
    widest = [(1.0, 1.0, False)]
    rows: list[LayerRow] = []
    names = {m: n for n, m in model.named_modules()}

    def field_of(t: torch.Tensor) -> tuple[float, float, bool]:
        return fields.get(id(t), max(widest, key=lambda f: (f[2], f[0])))

    def hook(module: nn.Module, inputs: tuple, output) -> None:
        out = output[0] if isinstance(output, tuple | list) else output
        if not isinstance(out, torch.Tensor):
            return
        leaf = not any(True for _ in module.children())
        if leaf:
            first = next((t for t in inputs if isinstance(t, torch.Tensor)), None)
            field, jump, whole = field_of(first) if first is not None else widest[-1]
            in_side = int(first.shape[-1]) if first is not None and first.dim() == 4 else 0
            out_side = int(out.shape[-1]) if out.dim() == 4 else 0
            if not whole:
                field, jump = _next_field(module, field, jump, in_side, out_side)
                whole = isinstance(module, ADAPTIVE) and out_side == 1 and in_side > 1  # global pooling
                if not whole and out_side <= 1:  # one output cell, or none: it sees every cell of the last map
                    whole = field + (last_map[0] - 1) * jump >= side
            if out_side:
                last_map[0] = out_side
            fields[id(out)] = (field, jump, whole)
            keep.append(out)
            widest.append((field, jump, whole))
        field, jump, whole = field_of(out)
        rows.append(
            LayerRow(
                names.get(module, type(module).__name__) or "(model)",
                type(module).__name__,
                leaf,
                tuple(int(v) for v in out.shape[1:]),
                total_params(module),
                field,
                jump,
                whole,
            )
        )

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    try:
        model.eval()
        model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return rows


def blocks(rows: list[LayerRow]) -> list[LayerRow]:
    """The rows a lecture slide shows: the model's direct children, with a stage (a Sequential of blocks,
    `layer1`) replaced by its blocks (`layer1.0`, `layer1.1`); plain layers of `features`/`classifier`
    stacks stay as they are. The whole model's own row is left out."""
    stages = {r.name for r in rows if r.kind == "Sequential" and r.name.count(".") == 0}
    return [
        r
        for r in rows
        if r.name != "(model)"
        and (
            (r.name.count(".") == 0 and r.name not in stages)
            or (r.name.count(".") == 1 and r.name.split(".")[0] in stages)
        )
    ]


def field_text(row: LayerRow) -> str:
    """A row's receptive field as a table shows it: "43 px, stride 4", or "whole image"."""
    if row.whole_image:
        return "whole image"
    return f"{row.field:g} px, stride {row.jump:g}" if len(row.shape) == 3 else f"{row.field:g} px"


def anatomy_columns(rows: list[LayerRow]) -> dict[str, list]:
    """The anatomy's rows as Build's table shows them, column by column (a DataFrame's input): each layer's name,
    type, output shape, parameters and receptive field (a notebook review rewrote it from the page)."""
    return {
        "layer": [r.name for r in rows],
        "type": [r.kind for r in rows],
        "output shape": [" x ".join(map(str, r.shape)) for r in rows],
        "parameters": [r.params for r in rows],
        "receptive field": [field_text(r) for r in rows],
    }


def field_note(rows: list[LayerRow], model: nn.Module, side: int) -> str:
    """What the receptive-field column means, for this model at a `side`-px input: a residual block's field only where
    the model has residual blocks, and where fields outgrow the input, that they reach into the padding (a walk read
    435 px on a 224-px input with no word, and the residual sentence under AlexNet)."""
    beyond = any(r.field > side and not r.whole_image for r in rows)
    return (
        "Receptive field: how many input pixels one output of the layer can see (one side), and how far apart in the "
        "input two neighbouring outputs are (the stride)."
        + (" A residual block's field is its main path's." if residual_blocks(model) else "")
        + (f" A field wider than the {side}-px input reaches past its edge into the zero padding." if beyond else "")
        + " After global pooling every output sees the whole image."
    )


def total_params(model: nn.Module) -> int:
    """Parameters of a module and its children (each counted once)."""
    return sum(p.numel() for p in model.parameters())


def residual_blocks(model: nn.Module) -> dict[str, nn.Module]:
    """The model's residual blocks by name (a module with a `shortcut` or `downsample` branch), in order."""
    return {n: m for n, m in model.named_modules() if hasattr(m, "shortcut") or hasattr(m, "downsample")}


def block_paths(block: nn.Module) -> tuple[list[str], list[str]]:
    """(main path, shortcut) of a residual block as the lecture draws them, e.g. (["3x3 conv, 128, stride 2",
    "BatchNorm", "ReLU", "3x3 conv, 128", "BatchNorm"], ["1x1 conv, 128, stride 2", "BatchNorm"]); an empty
    shortcut is the identity. The ReLU after the sum is not listed. Read from the order the block's forward pass
    calls its layers (on a copy on the meta device), not the order they were declared in: the lecture's own block
    declares conv1, shortcut, conv2, bn1, bn2 and ReLUs after both BatchNorms (a fidelity review read "3x3 conv ->
    3x3 conv -> BatchNorm -> ReLU -> BatchNorm" under its source)."""
    import copy

    twin = copy.deepcopy(block).to("meta")
    branch = _shortcut(twin)
    side = set(branch.modules()) if branch is not None else set()
    calls: list[tuple[nn.Module, bool]] = []  # (layer, whether its input is the previous main layer's output as left)
    last: list[tuple[torch.Tensor, int] | None] = [None]

    def called(module: nn.Module, args: tuple) -> None:  # before it runs: an in-place ReLU changes its input
        if module not in side:
            x = args[0]
            calls.append((module, last[0] is not None and x is last[0][0] and x._version == last[0][1]))

    def returned(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        if module not in side:
            last[0] = (out, out._version)

    leaves = [m for m in twin.modules() if isinstance(m, nn.Conv2d | nn.BatchNorm2d | nn.ReLU)]
    handles = [m.register_forward_pre_hook(called) for m in leaves]
    handles += [m.register_forward_hook(returned) for m in leaves]
    first = next(m for m in leaves if isinstance(m, nn.Conv2d))
    try:
        with torch.no_grad():
            twin.eval()(torch.empty(1, first.in_channels, 8, 8, device="meta"))
    except Exception:  # a visitor's block that will not run on a stand-in input: its layers as declared
        calls = [(m, True) for m in leaves if m not in side]
    finally:
        for h in handles:
            h.remove()

    def label(m: nn.Module) -> str:
        if isinstance(m, nn.Conv2d):
            k, s = _pair(m.kernel_size), _pair(m.stride)
            return f"{k}x{k} conv, {m.out_channels}" + (f", stride {s}" if s > 1 else "")
        return "BatchNorm" if isinstance(m, nn.BatchNorm2d) else "ReLU"

    path = [label(m) for n, (m, follows) in enumerate(calls) if not (isinstance(m, nn.ReLU) and n and not follows)]
    shortcut = [label(m) for m in branch.modules() if isinstance(m, nn.Conv2d | nn.BatchNorm2d)] if branch else []
    return path, shortcut


def block_text(main: list[str], shortcut: list[str]) -> str:
    """A residual block's two paths (as `block_paths` gives them) in words, Markdown, beside its drawing: the main
    path, the shortcut (the identity when empty) and the sum with its ReLU, which the paths leave out."""
    side = (
        " → ".join(shortcut) + " (a projection: the block changes the input's size or channels, so the input is "
        "made to match before the sum)"
        if shortcut
        else "the identity: the input itself, added unchanged"
    )
    return f"**Main path:** {' → '.join(main)}  \n**Shortcut:** {side}  \n**Then:** the two are added, then a ReLU."


def _shortcut(block: nn.Module) -> nn.Module | None:
    return getattr(block, "shortcut", None) or getattr(block, "downsample", None)


def lecture_blocks(found: dict[str, nn.Module]) -> tuple[str, str]:
    """(the block the lecture draws first, the plain one) among a model's residual blocks: the first whose
    shortcut is a projection that halves the resolution (a stride-2 1x1 conv), else the first projection; and
    the first with an identity shortcut. Read from the modules, not from how they are labelled."""

    def convs(block: nn.Module) -> list[nn.Conv2d]:  # the shortcut's convolutions; none for the identity
        branch = _shortcut(block)
        return [m for m in branch.modules() if isinstance(m, nn.Conv2d)] if branch is not None else []

    projecting = [n for n, b in found.items() if convs(b)]
    first = next((n for n in projecting if any(_pair(c.stride) == 2 for c in convs(found[n]))), projecting[0])
    plain = next(n for n, b in found.items() if not convs(b))
    return first, plain


def repeated_calls_note(rows: list[LayerRow]) -> str:
    """One line when a module is called more than once in the rows shown (torchvision's BasicBlock calls its one
    `relu` twice: before the sum and after it), so its name has a row per call; or "" (a review read the two rows of
    `layer2.0.relu`, at 51 and 67 px, as a duplicate)."""
    names = [r.name for r in rows]
    repeated = list(dict.fromkeys(n for n in names if names.count(n) > 1))
    if not repeated:
        return ""
    return (
        f"`{repeated[0]}`{' and others' if len(repeated) > 1 else ''} appear{'' if len(repeated) > 1 else 's'} once "
        "per call: a module the forward pass calls twice (a block's shared ReLU) has a row for each call, at its own "
        "place and receptive field."
    )


def upsampling_pool_note(rows: list[LayerRow]) -> str:
    """One line when an adaptive pooling layer makes its input larger (AlexNet-style `AdaptiveAvgPool2d(6)` after a
    map smaller than 6 x 6 copies each value), naming what the next fully connected layer then pays for; or ""."""
    for before, pool, after in zip(rows, rows[1:], rows[2:], strict=False):
        if not pool.kind.startswith("Adaptive") or len(before.shape) != 3 or len(pool.shape) != 3:
            continue
        (c, h, w), (_, ph, pw) = before.shape, pool.shape
        if ph * pw <= h * w:
            continue
        linear = next((r for r in rows[rows.index(pool) + 1 :] if r.kind == "Linear"), after)
        return (
            f"`{pool.name}` makes the {h} x {w} map {ph} x {pw} by copying each value {ph * pw // (h * w)} times "
            f"at this input size, so `{linear.name}` has {linear.params:,} parameters for {c * h * w:,} distinct "
            "numbers; at a larger input the map would be bigger and the copies fewer."
        )
    return ""
