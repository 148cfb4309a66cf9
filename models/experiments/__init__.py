"""The live training tricks: BatchNorm (Ioffe & Szegedy's Figure 1 on real digits) and data augmentation
(pipelines of torchvision transforms v2, and a with/without comparison)."""
