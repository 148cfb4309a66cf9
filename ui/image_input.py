"""One widget for every page's image: upload, camera or a sample, decoded safely and hashed."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from PIL import Image

from explain.images import ImageLoadError, image_sha256, load_image
from explain.samples import SAMPLE_NAMES, sample_bytes

SUPPORTED = "PNG, JPEG, WebP, BMP, GIF or TIFF, up to 25 MB"


@dataclass(frozen=True)
class ChosenImage:
    """A decoded RGB image, the SHA-256 of its bytes (the cache key) and where it came from."""

    image: Image.Image
    sha256: str
    label: str


@st.cache_data(max_entries=64, show_spinner=False)
def _decode(data: bytes) -> Image.Image:
    return load_image(data)


def image_input(key: str, default_sample: str = SAMPLE_NAMES[0]) -> ChosenImage | None:
    """Draw the image chooser; return the chosen image, or None after showing why it is unusable.

    A camera photo wins over an upload, and an upload over the sample picker.
    """
    left, right = st.columns([3, 2])
    # No `type=` filter: Streamlit would raise on a file with another ending (a drag-and-drop or a
    # crafted request); load_image reads the content instead and explains what is wrong in one line.
    upload = left.file_uploader("Upload an image", key=f"{key}_upload", help=SUPPORTED)
    sample = right.selectbox(
        "…or pick a sample", SAMPLE_NAMES, index=SAMPLE_NAMES.index(default_sample), key=f"{key}_sample"
    )
    use_camera = right.toggle("Use the camera", key=f"{key}_cam")
    shot = st.camera_input("Take a photo", key=f"{key}_camera") if use_camera else None

    if shot is not None:
        data, label = shot.getvalue(), "camera photo"
    elif upload is not None:
        data, label = upload.getvalue(), upload.name
    else:
        data, label = sample_bytes(sample), sample
    try:
        image = _decode(data)
    except ImageLoadError as exc:
        st.error(f"{label}: {exc}", icon=":material/broken_image:")
        return None
    return ChosenImage(image, image_sha256(data), label)
