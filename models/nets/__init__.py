"""Architectures the project trains itself: the course ResNet-18, a small U-Net, the BatchNorm experiment's
digits networks, and a laptop-sized Mask R-CNN on the ResNet-18."""
