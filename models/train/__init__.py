"""Commands that produce weights: `python -m models.train.classifier`, `.detector`, `.unet` and `.encoder` train the
bundled models; `python -m models.train.fetch_weights` fills torchvision's cache for an offline image. They are
scripts: nothing in the app imports them (checked by import-linter)."""
