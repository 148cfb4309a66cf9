"""Data the project generates or that a package ships: procedural shapes and scenes, scikit-learn's digits,
glyphs and fractals to pretrain on, the U-Net's task, COCO-format records, batches, and the one preprocessing."""
