"""One widget for every page's image: upload, camera or a sample, decoded safely and hashed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import streamlit as st
from PIL import Image
from streamlit.delta_generator import DeltaGenerator

from explain.inputs.image_choice import FROM_ELSEWHERE, image_source
from explain.inputs.images import ImageLoadError, image_sha256, load_image
from explain.inputs.samples import GENERATED, SAMPLE_NAMES, sample_bytes
from explain.inputs.upload_limits import IMAGE_MB
from models.text import display_name
from ui.view_link import (
    BIND,
    RUN_SUBJECT,
    carried_upload,
    carry_upload,
    drop_if_emptied,
    drop_upload,
    forget_upload,
    linked_upload,
    name_upload,
    remember_upload,
)

SUPPORTED = "PNG, JPEG, WebP, BMP, GIF or TIFF, up to 25 MB"


@dataclass(frozen=True)
class ChosenImage:
    """A decoded RGB image, the SHA-256 of its bytes (the cache key), its name as shown, and what it is:
    a sample drawn by the project's generator, a sample photo, a test image of the visitor's own network's data
    ("model-data"), or the visitor's own (an upload or a camera photo)."""

    image: Image.Image
    sha256: str
    name: str
    kind: Literal["generated", "photo", "model-data", "own"] = "own"


@st.cache_data(max_entries=64, show_spinner=False)
def _decode(sha256: str, _data: bytes) -> Image.Image | str:
    """The image, or the one-line reason it is refused; keyed on the full content hash and caching
    refusals too, so a file costs one decode however often a page reruns or a class re-sends it."""
    try:
        return load_image(_data)
    except ImageLoadError as exc:
        return str(exc)


def decode_upload(
    data: bytes, name: str, kind: Literal["generated", "photo", "own"] = "own", sha256: str | None = None
) -> ChosenImage | str:
    """An upload's (or a sample's) bytes as a ChosenImage, or "name: why not" in one line (the name made safe to
    show); `sha256`, the bytes' hash when the caller has it already (it is not computed twice)."""
    sha, shown = sha256 or image_sha256(data), display_name(name)
    decoded = _decode(sha, data)
    return f"{shown}: {decoded}" if isinstance(decoded, str) else ChosenImage(decoded, sha, shown, kind)


def image_input(
    prefix: str,
    default_sample: str = SAMPLE_NAMES[0],
    extra: dict[str, bytes] | None = None,
    notices: DeltaGenerator | None = None,
) -> ChosenImage | None:
    """Draw the image chooser; return the chosen image, or None after showing why it is unusable. `extra` samples
    (name -> PNG bytes: the test images of the visitor's own network) come first in the picker. Why an image
    cannot be shown or is not the one a link names goes in `notices` where given (a picker behind a button: a
    review found those lines drawn only once it was opened), else under the picker.

    A camera photo wins over an upload; then come the upload a link names and the one the visitor gave another page
    (an image follows them from page to page until they pick a sample or remove it), then the sample picker
    (`explain.inputs.image_choice.image_source`).
    """
    extra, say = extra or {}, notices or st
    names = (*extra, *SAMPLE_NAMES)
    if st.session_state.get(f"{prefix}_extra_of") != tuple(extra):  # the own network's samples came (or went)
        st.session_state[f"{prefix}_extra_of"] = tuple(extra)
        if extra:  # its own data first: a digits network is shown a digit, not a photo (nor an upload carried)
            st.session_state[f"{prefix}_sample"] = next(iter(extra))
            drop_upload()
    left, right = st.columns([3, 2])
    # No `type=` filter: Streamlit would raise on a file with another ending (a drag-and-drop or a
    # crafted request); load_image reads the content instead and explains what is wrong in one line.
    upload = left.file_uploader(
        "Upload an image",
        key=f"{prefix}_upload",
        help=SUPPORTED,
        max_upload_size=IMAGE_MB,
        on_change=drop_if_emptied,
        args=(f"{prefix}_upload",),
    )
    sample = right.selectbox(
        "…or pick a sample",
        names,
        index=names.index(default_sample) if default_sample in names else 0,
        key=f"{prefix}_sample",
        bind=BIND,
        on_change=drop_upload,
    )
    use_camera = right.toggle("Use the camera", key=f"{prefix}_cam", on_change=_camera_switched, args=(prefix,))
    shot = (
        st.camera_input("Take a photo", key=f"{prefix}_camera", on_change=drop_if_emptied, args=(f"{prefix}_camera",))
        if use_camera
        else None
    )
    own = shot or upload  # the file in this page's own widgets: a camera photo wins over an upload
    earlier = linked_upload()  # an upload of this session that the URL names
    if isinstance(earlier, str):
        forget_upload()
    carried = carried_upload() if own is None and not isinstance(earlier, tuple) else None
    if isinstance(carried, str):
        say.info(carried, icon=":material/hourglass_disabled:")
    source = image_source(shot is not None, upload is not None, isinstance(earlier, tuple), isinstance(carried, tuple))
    if isinstance(earlier, str):  # said once what is shown instead is known
        shown = "your latest upload" if source == "carried" else "the sample"
        say.info(f"{earlier} ({shown.capitalize()} is shown meanwhile.)", icon=":material/link_off:")
    if source in ("camera", "upload"):
        data, name = own.getvalue(), "camera photo" if source == "camera" else upload.name
    elif source in FROM_ELSEWHERE:
        data, name = earlier if source == "linked" else carried
    else:
        data, name = extra[sample] if sample in extra else sample_bytes(sample), sample
    said = right.empty()  # which image is shown, once it is known to be one (a walk read "Showing bad.png" above
    # the line refusing bad.png)
    if source in FROM_ELSEWHERE:
        right.caption(f"Showing your {display_name(name)} from earlier, not the sample above.")
        right.button(
            "Show the sample instead",
            key=f"{prefix}_use_sample",
            on_click=drop_upload,
            help="On every page: your upload is put away until you upload an image again.",
        )
    if source != "sample":
        kind = "own"
    elif sample in extra:  # a test image of the visitor's own network's data
        kind = "model-data"
    else:
        kind = "generated" if sample in GENERATED else "photo"
    sha = st.session_state[RUN_SUBJECT] = image_sha256(data)  # the run's done marker names the file, refused or not
    chosen = decode_upload(data, name, kind, sha)
    if source in ("camera", "upload"):  # the picker still names its sample: say which image is shown, or why none
        said.caption(
            f"Showing {display_name(name)}, not the sample above (remove it to use the samples)."
            if not isinstance(chosen, str)
            else f"{display_name(name)} cannot be shown (the line below says why): remove it to use the samples."
        )
    if isinstance(chosen, str):
        say.error(chosen, icon=":material/broken_image:")
        return None
    if source != "sample":  # kept under the name as given (shown through display_name, once, where shown)
        remember_upload(chosen.sha256, data, name)
        carry_upload(chosen.sha256, name)
    name_upload(None if source == "sample" else chosen.sha256)
    return chosen


def _camera_switched(prefix: str) -> None:
    """The camera toggle's on_change: turned off while it held a photo, that photo is dropped like a removed file
    (the widget's state is still there while the callback runs)."""
    if not st.session_state.get(f"{prefix}_cam") and st.session_state.get(f"{prefix}_camera") is not None:
        drop_upload()
