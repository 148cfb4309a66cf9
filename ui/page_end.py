"""Ending a page's run early (no usable image yet, no method ticked) while the shell still draws what follows it.

`st.stop()` cannot do that: it asks the script runner to stop, and the runner then drops every element drawn
after it, so the sidebar's Copy link and the run's done marker (`ui.shell`) never reached the page. A page calls
`end_page()` instead; the shell catches `PageEnded`, draws its last elements, and the run ends normally.
"""

from __future__ import annotations

from typing import NoReturn


class PageEnded(BaseException):
    """Raised by `end_page`; a BaseException so that no `except Exception` in a page swallows it."""


def end_page() -> NoReturn:
    """End this run of the page here, after the page has said why (the shell still draws its sidebar)."""
    raise PageEnded
