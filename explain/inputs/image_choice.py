"""Which image a page shows, of those a visitor may have given it: the rule behind every page's image chooser, kept
apart from Streamlit so a test (or a notebook) reaches it."""

from __future__ import annotations

from typing import Literal

ImageSource = Literal["camera", "upload", "linked", "carried", "sample"]
FROM_ELSEWHERE: tuple[ImageSource, ...] = ("linked", "carried")  # shown, though not in this page's own widgets


def image_source(camera: bool, upload: bool, linked: bool, carried: bool) -> ImageSource:
    """What the page shows: a photo taken with its camera, else the file in its uploader, else the upload the link
    names, else the upload the visitor last gave another page (so an image follows them from page to page until they
    pick a sample or empty a file box: the page's widgets drop it then), else the sample picked."""
    if camera:
        return "camera"
    if upload:
        return "upload"
    if linked:
        return "linked"
    return "carried" if carried else "sample"
