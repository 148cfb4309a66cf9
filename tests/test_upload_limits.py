"""#31: what one uploader and one visitor's session may hold, and the guard in front of Streamlit's uploaded-file
manager (these tests fail if a Streamlit upgrade moves the methods the guard wraps)."""

from __future__ import annotations

from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from explain.inputs.upload_limits import (
    LABELLED_UPLOADS,
    MB,
    TOP9_UPLOADS,
    KeptUploads,
    UploadBudget,
    UploadLimit,
)
from explain.methods.batch_view import MAX_BATCH
from ui.upload_guard import _Ledger


def test_an_uploader_keeps_files_in_order_up_to_its_count_and_size():
    limit = UploadLimit(files=3, megabytes=10)
    assert limit.kept([MB] * 3) == (3, None)
    count, line = limit.kept([MB] * 5)
    assert count == 3 and line.startswith("2 of 5 files dropped") and "at most 3 files and 10 MB" in line
    count, line = limit.kept([4 * MB, 4 * MB, 4 * MB])
    assert count == 2 and "1 of 3 files dropped" in line
    assert limit.kept([]) == (0, None)
    assert LABELLED_UPLOADS.files == MAX_BATCH  # the labelled-set view explains at most this many


def test_the_worst_uploader_fits_in_a_session_and_a_session_in_the_server():
    budget = UploadBudget()
    for limit in (TOP9_UPLOADS, LABELLED_UPLOADS):
        assert limit.files < budget.session_files and limit.megabytes < budget.session_megabytes
    assert budget.session_megabytes < budget.server_megabytes <= 1000  # a 2.7 GB server with ~0.8 GB of its own


def test_the_budget_refuses_past_a_session_or_the_server_with_a_reason():
    b = UploadBudget(session_files=2, session_megabytes=10, server_megabytes=15)
    assert b.refusal(0, 0, 0, MB) is None
    assert "your tabs already hold 2 uploaded files (at most 2)" in b.refusal(2, 2 * MB, 2 * MB, MB)
    assert "would pass 10 MB" in b.refusal(1, 9 * MB, 9 * MB, 2 * MB)
    assert "server holds as many uploads as it can" in b.refusal(0, 0, 14 * MB, 2 * MB)


def test_a_host_sets_its_own_budget_through_the_environment(monkeypatch):
    monkeypatch.setenv("EXPLAINER_UPLOAD_SESSION_MB", "500")
    monkeypatch.setenv("EXPLAINER_UPLOAD_SERVER_MB", "not a number")
    budget = UploadBudget.from_env()
    assert budget.session_megabytes == 500 and budget.server_megabytes == UploadBudget().server_megabytes


def _rec(file_id: str, size: int) -> UploadedFileRec:
    return UploadedFileRec(file_id=file_id, name=f"{file_id}.png", type="image/png", data=b"x" * size)


def test_the_guard_refuses_a_file_past_the_budget_and_counts_what_is_removed():
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    ledger = _Ledger(manager, UploadBudget(session_files=3, session_megabytes=2, server_megabytes=3))
    ledger.add_file("a", _rec("1", MB))
    ledger.add_file("a", _rec("1", MB))  # the same file sent again replaces itself
    ledger.add_file("a", _rec("2", MB // 2))
    # refused by not keeping it (answered as taken, so that the page runs again and says why: after a 413 it did not)
    ledger.add_file("a", _rec("3", MB))
    # kept for the page to say, per session, until the session ends
    assert ledger.refused == {"a": [("3.png", "your tabs' uploads would pass 2 MB; remove some first")]}
    assert [f.file_id for f in manager.get_files("a", ["1", "2", "3"])] == ["1", "2"]
    ledger.add_file("b", _rec("4", MB))
    ledger.add_file("c", _rec("5", MB))  # the server holds 2.5 MB of its 3
    assert manager.get_files("c", ["5"]) == [] and "the server holds as many uploads" in ledger.refused["c"][0][1]
    ledger.remove_file("a", "1")
    ledger.add_file("c", _rec("5", MB))  # room again
    ledger.remove_session_files("a")
    assert manager.get_files("a", ["2"]) == [] and ledger.held.get("a") is None and "a" not in ledger.refused
    assert [f.file_id for f in manager.get_files("c", ["5"])] == ["5"]


def test_a_visitors_tabs_share_one_budget():
    """A loopback review: the budget was per tab, and one browser's five tabs held 997 MB of the server's 1,000, so
    another visitor's photo was refused. Sessions named as one visitor's count together; another visitor's do not."""
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    ledger = _Ledger(manager, UploadBudget(session_files=3, session_megabytes=2, server_megabytes=10))
    for tab in ("tab1", "tab2"):
        ledger.name_visitor(tab, "browser A")
    ledger.name_visitor("tab3", "browser B")
    ledger.add_file("tab1", _rec("1", MB))
    ledger.add_file("tab2", _rec("2", MB))
    ledger.add_file("tab2", _rec("3", MB))  # the visitor's third megabyte, in either tab: refused
    assert manager.get_files("tab2", ["3"]) == []
    assert ledger.refused["tab2"] == [("3.png", "your tabs' uploads would pass 2 MB; remove some first")]
    ledger.add_file("tab2", _rec("2", MB))  # a file sent again replaces itself
    ledger.add_file("tab3", _rec("4", 2 * MB))  # another visitor has a budget of their own
    ledger.remove_session_files("tab1")  # a closed tab gives its share back
    ledger.add_file("tab2", _rec("5", MB))
    assert "tab1" not in ledger.visitors


def test_refused_uploads_are_said_together_by_reason():
    """A review: a drop of three refused files named only the last; each is named, those of one reason together."""
    from explain.inputs.upload_limits import MAX_REFUSALS_SAID, refusals_text

    full = "your tabs' uploads would pass 2 MB; remove some first"
    assert refusals_text([("a.png", full)]) == f"a.png was not uploaded: {full}."
    said = refusals_text([("a.png", full), ("b **x**.png", full), ("big.png", "an image may be at most 25 MB")])
    assert (
        said
        == f"a.png, b --x--.png were not uploaded: {full}. big.png was not uploaded: an image may be at most 25 MB."
    )
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    ledger = _Ledger(manager, UploadBudget(session_files=1, session_megabytes=2, server_megabytes=10))
    ledger.add_file("a", _rec("1", MB))
    for i in range(MAX_REFUSALS_SAID + 2):
        ledger.add_file("a", _rec(f"x{i}", MB))  # each refused: not kept
    assert [f.file_id for f in manager.get_files("a", [f"x{i}" for i in range(MAX_REFUSALS_SAID + 2)])] == []
    assert [name for name, _ in ledger.refused["a"]] == [f"x{i}.png" for i in range(2, MAX_REFUSALS_SAID + 2)]


def test_one_file_is_held_to_its_kind_of_cap():
    """The server's own cap is the weights file's (240 MB); an image or annotation is held to 25 MB here, whatever a
    crafted request claims its uploader allows; `.streamlit/config.toml` agrees with models.own."""
    import tomllib
    from pathlib import Path

    from explain.inputs.upload_limits import IMAGE_MB, UploadBudget
    from models.own import MAX_MODEL_MB

    b = UploadBudget(session_megabytes=1000, server_megabytes=1000)
    assert "an image may be at most 25 MB" in b.refusal(0, 0, 0, (IMAGE_MB + 1) * MB, "cat.png")
    assert b.refusal(0, 0, 0, IMAGE_MB * MB, "cat.png") is None
    assert b.refusal(0, 0, 0, 200 * MB, "mine.PT") is None
    assert "a weights file may be at most 240 MB" in b.refusal(0, 0, 0, 241 * MB, "mine.safetensors")
    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_MODEL_MB == 240


def test_kept_uploads_are_each_owners_alone_and_bounded_per_owner_and_in_all():
    """A review over loopback: uploads kept per session for links were outside every bound, and Streamlit keeps a
    reloaded tab's old session, so one visitor grew the server by 100 MB a reload."""
    kept = KeptUploads(per_owner=2, megabytes=3)
    kept.ENTRY_BYTES = 0  # whole megabytes below
    kept.put("a", "1", b"x" * MB, "one.png")
    assert kept.get("a", "1") == (b"x" * MB, "one.png") and kept.get("b", "1") is None  # another owner sees nothing
    kept.put("a", "2", b"y" * 10, "two.png")
    kept.put("a", "3", b"z" * 10, "three.png")  # a's third: its oldest goes
    assert kept.get("a", "1") is None and kept.get("a", "2") and kept.get("a", "3")
    for owner in "bcdf":  # a megabyte each: past 3 MB in all, the owner holding most gives up its oldest first
        kept.put(owner, "9", b"w" * MB, "big.png")
    assert kept.bytes() == 2 * MB + 20 and all(kept.get(owner, "9") for owner in "df") and kept.get("b", "9") is None
    # a's two small files stay (a review: one visitor's 100 MB emptied the store of a classmate's upload; this test
    # had the oldest go first, whoever kept them)
    assert kept.get("a", "2") and kept.get("a", "3") and kept.get("c", "9") is None
    kept.put("e", "0", b"v" * (4 * MB), "huge.png")  # larger than the whole store: not kept, nothing dropped for it
    assert kept.get("e", "0") is None and all(kept.get(owner, "9") for owner in "df") and kept.get("a", "3")
    for i in range(5):  # one visitor's large files (two browsers) push out their own, not the classmate's
        kept.put("attacker", str(i), b"n" * MB, "noise.png")
    assert kept.get("a", "2") and kept.get("a", "3") and kept.get("attacker", "4") and kept.bytes() <= 3 * MB


def test_an_upload_kept_again_after_its_owner_was_emptied_stays_kept():
    """A review: an owner's old heap entry for an amount became valid again when they held that amount again, and
    setting only one of the two aside evicted the upload just kept: the very step the page asks for ("upload it
    again")."""
    kept = KeptUploads(per_owner=4, megabytes=1)
    kept.ENTRY_BYTES = 0
    kept.put("a", "photo", b"a" * 700_000, "a.png")
    kept.put("b", "1", b"b" * 300_000, "b.png")
    kept.put("b", "2", b"c" * 300_000, "c.png")  # past the megabyte: a holds most and gives its only file up
    assert kept.get("a", "photo") is None
    kept.put("a", "photo", b"a" * 700_000, "a.png")  # kept again: b's oldest goes, not a's file
    assert kept.get("a", "photo") and kept.get("b", "2") and kept.get("b", "1") is None and kept.bytes() <= MB


def test_kept_uploads_charge_each_entry_and_a_put_costs_the_same_however_many_are_kept():
    """A review: a put scanned every entry (1.5 s under the lock at 10,000), and 70-byte uploads held 4.6 times the
    bytes charged."""
    import time

    from tests.bounds import within

    kept = KeptUploads(per_owner=4, megabytes=1)
    for i in range(20_000):
        kept.put(f"owner{i}", "sha", b"x" * 70, "tiny.png")
    assert kept.bytes() <= MB and kept.bytes() // (70 + KeptUploads.ENTRY_BYTES) == MB // (70 + 1024)
    t0 = time.perf_counter()
    kept.put("big", "sha", b"y" * (MB // 2), "half.png")  # drops about half the entries
    assert time.perf_counter() - t0 < within(0.5) and kept.get("big", "sha") and kept.bytes() <= MB
