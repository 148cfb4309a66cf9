"""Several copies of one network trained as one: K members of the same architecture stacked into a single network
whose convolutions are grouped (K groups, one per member), whose BatchNorm layers hold every member's channels side
by side (BatchNorm normalises each channel alone, so that is each member's own BatchNorm, running statistics
included) and whose linear layers are batched matrix products. Each member keeps its own parameters, which the
stacked network concatenates on every forward pass, so the optimiser sees each member as it would alone (its own
parameter groups and rates) and each gradient is the member's own. One step of the stack replaces K steps.

PyTorch's model-ensembling tutorial stacks with `torch.func.stack_module_state` and `vmap`; `vmap` turns a batched
convolution into the same grouped convolution, but it cannot update BatchNorm's running statistics in place, which
these networks need to give the run each member gives alone."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call


class NotStackable(ValueError):
    """The network holds a layer with parameters that `stack` cannot group (or the members differ)."""


class StackedLinear(nn.Module):
    """K linear layers applied to K slices of the features: (N, K*D) -> (N, K, out)."""

    def __init__(self, k: int, layer: nn.Linear) -> None:
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.empty(k, layer.out_features, layer.in_features))
        self.bias = nn.Parameter(torch.empty(k, layer.out_features)) if layer.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("nki,koi->nko", x.reshape(x.shape[0], self.k, -1), self.weight)
        return out if self.bias is None else out + self.bias


def _grouped(layer: nn.Module, k: int) -> nn.Module | None:
    """The K-member version of one layer with parameters or buffers; None for a layer that works per channel."""
    if isinstance(layer, nn.Conv2d):
        if layer.padding_mode != "zeros":
            raise NotStackable(f"a convolution padded with {layer.padding_mode!r}")
        return nn.Conv2d(
            layer.in_channels * k,
            layer.out_channels * k,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            layer.dilation,
            layer.groups * k,
            layer.bias is not None,
        )
    if isinstance(layer, nn.BatchNorm2d):
        tracked = layer.track_running_stats
        return nn.BatchNorm2d(layer.num_features * k, layer.eps, layer.momentum, layer.affine, tracked)
    if isinstance(layer, nn.Linear):
        return StackedLinear(k, layer)
    if any(True for _ in layer.parameters(recurse=False)) or any(True for _ in layer.buffers(recurse=False)):
        raise NotStackable(f"{type(layer).__name__} layers cannot be stacked")
    return None


def _joined(members: list[torch.Tensor], stacked: bool) -> torch.Tensor:
    return torch.stack(members) if stacked else torch.cat(members)


class Stack(nn.Module):
    """K members of one architecture as one network: `forward` takes (N, K, C, H, W), member k's batch at [:, k], and
    returns (N, K, outputs). BatchNorm statistics live in the stack while it trains; `write_back` returns them."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        first = members[0]
        shapes = {k: v.shape for k, v in first.state_dict().items()}
        for m in members[1:]:
            if {k: v.shape for k, v in m.state_dict().items()} != shapes:
                raise NotStackable("the members are not one architecture")
        self.members = members  # a plain list: their parameters stay theirs, not the stack's
        self.k = len(members)
        device = next(first.parameters()).device
        with torch.device("meta"):  # the grouped layers' own weights are never used: no memory, no random draws
            self.template = _grouped(first, self.k) if not list(first.children()) else copy.deepcopy(first)
            if self.template is None:
                raise NotStackable(f"{type(first).__name__} has nothing to train")
            for parent in list(self.template.modules()):
                for name, child in list(parent.named_children()):
                    grouped = _grouped(child, self.k) if not list(child.children()) else None
                    if grouped is not None:
                        setattr(parent, name, grouped)
        self.stacked_names = {n for n, m in self.template.named_modules() if isinstance(m, StackedLinear)}
        with torch.no_grad():  # the BatchNorm statistics are real, and start from the members' own
            sources = [dict(m.named_buffers()) for m in members]
            for module_name, module in self.template.named_modules():
                for name, buffer in list(module.named_buffers(recurse=False)):
                    if buffer is not None:
                        full = f"{module_name}.{name}" if module_name else name
                        module._buffers[name] = self._join(full, sources).clone().to(device)

    def _join(self, name: str, sources) -> torch.Tensor:
        owner = name.rpartition(".")[0]
        parts = [src[name] for src in sources]
        if name.endswith("num_batches_tracked"):
            return parts[0]
        return _joined(parts, owner in self.stacked_names)

    def parameters_now(self) -> dict[str, torch.Tensor]:
        """The stack's parameters, joined from the members' (autograd carries each gradient back to its member)."""
        sources = [dict(m.named_parameters()) for m in self.members]
        return {name: self._join(name, sources) for name, _ in self.template.named_parameters()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = functional_call(self.template, self.parameters_now(), (x.flatten(1, 2),))
        return out if out.dim() == 3 else out.view(out.shape[0], self.k, -1)

    def train(self, mode: bool = True) -> Stack:
        """Training mode for the stack and the members alike."""
        self.template.train(mode)
        for m in self.members:
            m.train(mode)
        return self

    def match_modes(self) -> None:
        """Put each layer of the stack in its members' mode (a frozen encoder is in eval mode)."""
        for (_, layer), (_, own) in zip(self.template.named_modules(), self.members[0].named_modules(), strict=True):
            layer.training = own.training

    @torch.no_grad()
    def write_back(self) -> None:
        """Copy the BatchNorm statistics the stack kept into each member, so each member is the network it would be
        had it trained alone."""
        owned = [dict(member.named_buffers()) for member in self.members]
        for name, buffer in self.template.named_buffers():
            owner = name.rpartition(".")[0]
            for k, buffers in enumerate(owned):
                own = buffers[name]
                if name.endswith("num_batches_tracked"):
                    own.copy_(buffer)
                elif owner in self.stacked_names:
                    own.copy_(buffer[k])
                else:
                    own.copy_(buffer.view(self.k, -1)[k])


def stackable(network: nn.Module) -> bool:
    """Whether `Stack` can group copies of `network` (build it on the meta device to ask without the memory)."""
    try:
        Stack([network, network])
    except NotStackable:
        return False
    return True
