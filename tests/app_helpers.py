"""Opening a page of the app the way AppTest can, and reading what it drew."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 300


def open_page(page: str | None = None) -> AppTest:
    """Run app.py, switch to `page` (a path such as "pages/attributions.py"), run it."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def open_link(page: str, params: dict) -> AppTest:
    """Open `page` the way a link does: its query parameters present on the first run."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.switch_page(page).run()
    return at


def plotly_specs(at: AppTest) -> list[dict]:
    """The Plotly figures on the page, as dicts."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def image_captions(at: AppTest) -> list[str]:
    return [c for im in at.get("image") for c in im.captions]


def live(at: AppTest, name: str):
    """The live run `name` of the page's session (ui.live_run: its phase, settings waiting and work)."""
    from ui.live_run import LiveState

    return at.session_state[f"{name}_live"] if f"{name}_live" in at.session_state else LiveState()


def set_live(at: AppTest, name: str, phase: str, work) -> None:
    """Leave the session as a run in `phase` would, holding `work` (a Stop leaves "stopped", a click "running")."""
    from ui.live_run import LiveState

    at.session_state[f"{name}_live"] = LiveState(phase, work=work)


def click_row(at: AppTest, row: int, table: int = 0) -> AppTest:
    """What a click on `row` of the page's `table`-th table sends (its key changes with the list it holds), run."""
    at.session_state[at.dataframe[table].key] = {"selection": {"rows": [row], "columns": []}}
    return at.run()


def row_of(at: AppTest, key: str):
    """The block (a row, a column, a container) that directly holds the widget keyed `key`, or None."""
    from streamlit.testing.v1.element_tree import Block

    def search(block: Block):
        kids = list(block.children.values())
        if any(getattr(kid, "key", None) == key and not isinstance(kid, Block) for kid in kids):
            return block
        return next((found for kid in kids if isinstance(kid, Block) and (found := search(kid))), None)

    return search(at.main)
