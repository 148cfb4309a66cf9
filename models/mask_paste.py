"""Mask R-CNN's mask pasting, every mask of an image in one pass.

torchvision's `paste_masks_in_image` resizes each 28 x 28 mask to its box with `F.interpolate` (bilinear,
align_corners=False) and copies it into an image-sized canvas, one mask at a time in a Python loop: on a GPU each mask
costs several host-device synchronisations (under cProfile on an H200, 2.8 of the 5.5 s of host time in the detection
bench's forward passes; bench/gpu/2026-12-04-h200-check3.txt).
`paste_masks` computes the same interpolation (the same two source pixels and weights per output pixel, along the
width within each source row, then along the height, as PyTorch's bilinear kernel does) as two batched matrix products
per chunk of masks, so its output equals torchvision's up to float rounding (tests/test_mask_paste.py holds it).
`BatchedPasteTransform` is torchvision's `GeneralizedRCNNTransform` with this paste in `postprocess` for masks on an
accelerator; everything else is the library's, the paste on the CPU too: there the loop resizes each mask to its box
alone, less arithmetic than products over the whole image, and was as fast or faster (100 masks into a 640 x 480
image on 2 cores: 72-89 ms against 83-95 ms batched in fresh processes; `python bench/bench_detection.py`'s last line).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.models.detection.roi_heads import expand_boxes, expand_masks, paste_masks_in_image
from torchvision.models.detection.transform import GeneralizedRCNNTransform, resize_boxes, resize_keypoints

BATCHED_ON = ("cuda", "mps")  # device types whose masks are pasted in one pass; on the CPU, torchvision's loop
CHUNK_ELEMENTS = 1 << 24  # image pixels x masks per pass: about 64 MB for each float temporary


def _resize_matrix(start: Tensor, length: Tensor, in_size: int, out_len: int) -> Tensor:
    """Per mask, the out_len x in_size float32 matrix of PyTorch's bilinear resize (align_corners=False) of `in_size`
    source pixels to the `length` pixels starting at image position `start`; rows outside that span are zero. Each
    row holds the two source taps and weights of `area_pixel_compute_source_index`. As torchvision's paste, the
    resize is to max(length, 1) pixels, and a box with length under 1 pastes nothing."""
    size = length.clamp(min=1)
    pos = torch.arange(out_len, device=start.device)[None] - start[:, None]
    inside = (pos >= 0) & (pos < length[:, None])
    dst = torch.minimum(pos.clamp(min=0), (size - 1)[:, None]).to(torch.float32)
    scale = torch.full_like(size, in_size, dtype=torch.float32) / size.to(torch.float32)  # the kernel's float32 in/out
    src = (scale[:, None] * (dst + 0.5) - 0.5).clamp(min=0)
    i0 = src.to(torch.int64)
    i1 = i0 + (i0 < in_size - 1).to(torch.int64)
    lam1 = (src - i0.to(torch.float32)) * inside
    lam0 = (1 - lam1) * inside
    taps = torch.zeros(*pos.shape, in_size, device=start.device, dtype=torch.float32)
    return taps.scatter_add_(2, i0[..., None], lam0[..., None]).scatter_add_(2, i1[..., None], lam1[..., None])


def _paste_chunk(masks: Tensor, boxes: Tensor, im_h: int, im_w: int) -> Tensor:
    """Padded float32 masks (n x Ph x Pw) and their expanded integer boxes (n x 4) -> n x im_h x im_w: the resize
    along the width, then along the height, as two batched products with the resize matrices."""
    x0, y0, x1, y1 = boxes.unbind(1)
    across = _resize_matrix(x0, x1 - x0 + 1, masks.shape[-1], im_w)  # n x W x Pw
    down = _resize_matrix(y0, y1 - y0 + 1, masks.shape[-2], im_h)  # n x H x Ph
    return torch.bmm(down, torch.bmm(masks, across.transpose(1, 2)))


def paste_masks(masks: Tensor, boxes: Tensor, img_shape: tuple[int, int], padding: int = 1) -> Tensor:
    """torchvision's `paste_masks_in_image(masks, boxes, img_shape, padding)`: N x 1 x M x M mask probabilities and
    their N x 4 boxes in image pixels -> N x 1 x H x W, each mask resized into its box (torchvision's box expansion for
    the padding) and zero elsewhere; in chunks of masks, without a per-mask loop. Computed in float32 whatever the
    masks' dtype and any autocast (a bfloat16 product would move values near 0.5 across it), returned in theirs."""
    dtype = masks.dtype
    masks, scale = expand_masks(masks, padding=padding)
    boxes = expand_boxes(boxes, scale).to(dtype=torch.int64)
    im_h, im_w = img_shape
    if masks.shape[0] == 0:
        return masks.new_empty((0, 1, im_h, im_w))
    chunk = max(1, CHUNK_ELEMENTS // max(1, im_h * im_w))
    with torch.autocast(masks.device.type, enabled=False):
        pasted = [
            _paste_chunk(masks[i : i + chunk, 0].float(), boxes[i : i + chunk], im_h, im_w)
            for i in range(0, masks.shape[0], chunk)
        ]
    return torch.cat(pasted)[:, None].to(dtype)


class BatchedPasteTransform(GeneralizedRCNNTransform):
    """torchvision's R-CNN transform whose `postprocess` pastes masks on an accelerator (BATCHED_ON) with
    `paste_masks`; otherwise the library's (boxes and keypoints are rescaled by its own functions)."""

    def postprocess(
        self,
        result: list[dict[str, Tensor]],
        image_shapes: list[tuple[int, int]],
        original_image_sizes: list[tuple[int, int]],
    ) -> list[dict[str, Tensor]]:
        if self.training:
            return result
        for pred, im_s, o_im_s in zip(result, image_shapes, original_image_sizes, strict=True):
            pred["boxes"] = resize_boxes(pred["boxes"], im_s, o_im_s)
            if "masks" in pred:
                paste = paste_masks if pred["masks"].device.type in BATCHED_ON else paste_masks_in_image
                pred["masks"] = paste(pred["masks"], pred["boxes"], o_im_s)
            if "keypoints" in pred:
                pred["keypoints"] = resize_keypoints(pred["keypoints"], im_s, o_im_s)
        return result


def use_batched_paste(model: torch.nn.Module) -> torch.nn.Module:
    """Gives an R-CNN's transform the batched paste for masks on an accelerator (in place, the same state); other
    models are left as they are."""
    transform = getattr(model, "transform", None)
    if type(transform) is GeneralizedRCNNTransform:
        transform.__class__ = BatchedPasteTransform
    return model
