"""The bundled offline detector: torchvision's Mask R-CNN, sized for a laptop CPU.

Backbone: the bundled shapes ResNet-18 (half width) with a 64-channel FPN over its four stages
(P2-P5, plus P6 by max-pooling); a 256-unit box head and a two-layer 64-channel mask head.
"""

from __future__ import annotations

from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from models.data.shapes import SHAPE_CLASSES
from models.nets.resnet import ResNet18

FPN_CHANNELS = 64
IMAGE_SIZE = 128


def shapes_maskrcnn(width: float = 0.5, backbone: ResNet18 | None = None) -> MaskRCNN:
    """A Mask R-CNN whose classes are background plus the six shapes."""
    body = backbone or ResNet18(len(SHAPE_CLASSES), width=width)
    channels = [stage[-1].conv2.out_channels for stage in (body.layer1, body.layer2, body.layer3, body.layer4)]
    fpn = BackboneWithFPN(
        body,
        return_layers={"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
        in_channels_list=channels,
        out_channels=FPN_CHANNELS,
        extra_blocks=LastLevelMaxPool(),
    )
    anchors = AnchorGenerator(sizes=((16,), (32,), (64,), (128,), (256,)), aspect_ratios=((0.5, 1.0, 2.0),) * 5)
    num_classes = 1 + len(SHAPE_CLASSES)
    return MaskRCNN(
        fpn,
        num_classes=None,
        min_size=IMAGE_SIZE,
        max_size=IMAGE_SIZE * 4,
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=600,
        rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_test=100,
        box_batch_size_per_image=128,
        box_head=TwoMLPHead(FPN_CHANNELS * 7 * 7, 256),
        box_predictor=FastRCNNPredictor(256, num_classes),
        mask_head=MaskRCNNHeads(FPN_CHANNELS, (64, 64), 1),
        mask_predictor=MaskRCNNPredictor(64, 64, num_classes),
    )
