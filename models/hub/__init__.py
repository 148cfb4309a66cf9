"""Where weights come from, in one place: torchvision's cache and downloads, the bundled checkpoints verified by
SHA-256 (`checkpoints`), their typed records and builder (`bundled`), and the pretrained-or-bundled fallback."""
