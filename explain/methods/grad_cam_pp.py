"""Grad-CAM++ (Chattopadhyay et al., WACV 2018) as the authors' code computes it
(github.com/adityac94/Grad_CAM_plus_plus, misc/utils.py, `grad_CAM_plus`).

torchcam 0.5.0's GradCAMpp divides its alphas in place through a boolean-mask copy, so the division never happens
(its weights become the sum of ReLU(gradient) cubed), and its denominator sums A x g^3 where the paper's Eq. 19 and
the authors' code multiply g^3 by the sum of A. This module computes the paper's, checked against the closed form
in tests/test_attributions.py.
"""

from __future__ import annotations

import torch
from torch import nn

from explain.methods.layers import output_kept_intact


def grad_cam_pp_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Each channel's weight, (batch, channels), from a layer's activations A and the class score's gradient g there,
    both (batch, channels, h, w): alpha = g^2 / (2 g^2 + g^3 sum_ab A_ab) (Eq. 19; a zero denominator counts as 1,
    as the authors' code has it), the alphas of each channel divided by their sum over the map (the authors' code;
    a channel whose alphas are all 0 keeps 0), and w = sum_ij alpha_ij ReLU(g_ij) (Eq. 10). The authors' code scales
    g by exp(score), which cancels in alpha and scales every weight alike: left out (no overflow at large scores)."""
    g2 = gradients.pow(2)
    total = activations.sum(dim=(2, 3), keepdim=True)
    denominator = 2 * g2 + g2 * gradients * total
    alpha = g2 / torch.where(denominator != 0, denominator, torch.ones_like(denominator))
    per_channel = alpha.sum(dim=(2, 3), keepdim=True)
    alpha = alpha / torch.where(per_channel != 0, per_channel, torch.ones_like(per_channel))
    return (alpha * gradients.clamp(min=0)).sum(dim=(2, 3))


def grad_cam_pp(model: nn.Module, x: torch.Tensor, target: int, layer: str) -> torch.Tensor:
    """The Grad-CAM++ map of class `target` at module `layer` for each image of the batch `x`, (batch, 1, h, w) at
    the layer's resolution: ReLU(sum_k w_k A_k), as in the paper and the authors' code."""
    kept: dict[str, torch.Tensor] = {}
    module = model.get_submodule(layer)
    hook = module.register_forward_hook(lambda _m, _i, out: kept.__setitem__("a", out))
    try:
        with torch.enable_grad(), output_kept_intact(module):  # the layer's output, not what the next step makes of it
            inputs = x.detach().requires_grad_(True)  # so the graph reaches the layer whatever the model's first op
            score = model(inputs)[:, target].sum()  # each image's score depends on its own input only (eval mode)
            activations = kept["a"]
            (gradients,) = torch.autograd.grad(score, activations)
    finally:
        hook.remove()
    weights = grad_cam_pp_weights(activations.detach(), gradients)
    return torch.relu((weights[:, :, None, None] * activations.detach()).sum(dim=1, keepdim=True))
