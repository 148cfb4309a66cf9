"""Pictures and Plotly charts made from `explain.methods` results: colormaps and overlays, detections drawn with
torchvision's utilities, learning and training curves, a U-Net's shape, and what a user downloads."""
