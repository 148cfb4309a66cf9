"""Bounds on what Streamlit holds for uploads: per visitor (browser) and in all (refused as a file arrives: not kept,
and said at the top of the page, which the upload runs again), and per multi-file uploader (the files past its limit
dropped from the server with one line).

Streamlit has no public hook for either: its uploaded-file manager keeps every file in memory, and the per-file
cap (`server.maxUploadSize`) is its only bound. `install_upload_guard` wraps that manager's three documented
methods (`add_file`, `remove_file`, `remove_session_files`, the `UploadedFileManager` protocol) on the running
server; `tests/test_upload_limits.py` fails if a Streamlit upgrade moves them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import streamlit as st
from streamlit import runtime
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

from explain.inputs.upload_limits import MAX_REFUSALS_SAID, UploadBudget, UploadLimit, refusals_text


class _Ledger:
    """What each session holds, kept beside the manager's own storage (which has no public size query)."""

    def __init__(self, manager, budget: UploadBudget) -> None:
        self.manager, self.budget = manager, budget
        self.held: dict[str, dict[str, int]] = {}
        self.refused: dict[str, list[tuple[str, str]]] = {}  # session -> (file name, reason) of its newest refusals
        self.visitors: dict[str, str] = {}  # session -> its visitor (browser): a visitor's tabs share one budget
        self.lock = threading.Lock()
        self.add, self.remove, self.remove_session = manager.add_file, manager.remove_file, manager.remove_session_files

    def name_visitor(self, session_id: str, visitor: str) -> None:
        """Say whose `session_id` is (`ui.view_link.visitor`: their browser): their tabs' uploads count together."""
        with self.lock:
            self.visitors[session_id] = visitor

    def add_file(self, session_id: str, file: UploadedFileRec) -> None:
        with self.lock:
            mine = self.held.setdefault(session_id, {})
            who = self.visitors.get(session_id, session_id)
            others = {  # every file of the visitor's tabs but this one (a file sent again replaces itself)
                (sid, k): v
                for sid, files in self.held.items()
                if self.visitors.get(sid, sid) == who
                for k, v in files.items()
                if (sid, k) != (session_id, file.file_id)
            }
            server = sum(sum(s.values()) for s in self.held.values()) - mine.get(file.file_id, 0)
            reason = self.budget.refusal(len(others), sum(others.values()), server, len(file.data), file.name)
            if reason is not None:
                # Refused by not keeping it, not by an HTTP error: after an error (413) the uploader marked the file in
                # red with "AxiosError: Request failed with status code 413" and the page did not run again, so the
                # reason waited, unsaid, for the visitor's next click (a loopback review: a photo refused while the
                # server was full). Answered as taken, the uploader runs the page, which finds no file (Streamlit
                # drops a file it does not hold from the widget's value) and says why, at its top, in one line.
                said = self.refused.setdefault(session_id, [])
                said.append((file.name, reason))
                del said[:-MAX_REFUSALS_SAID]
                return
            mine[file.file_id] = len(file.data)
            self.add(session_id, file)

    def remove_file(self, session_id: str, file_id: str) -> None:
        with self.lock:
            self.held.get(session_id, {}).pop(file_id, None)
            self.remove(session_id, file_id)

    def remove_session_files(self, session_id: str) -> None:
        with self.lock:
            self.held.pop(session_id, None)
            self.refused.pop(session_id, None)
            self.visitors.pop(session_id, None)
            self.remove_session(session_id)


_INSTALL_LOCK = threading.Lock()


def install_upload_guard(budget: UploadBudget | None = None) -> _Ledger | None:
    """Put the upload budget in front of the running server's uploaded-file manager, once per process (later
    calls return the installed ledger). None outside a running server (AppTest, a notebook)."""
    if not runtime.exists():
        return None
    manager = runtime.get_instance().uploaded_file_mgr
    with _INSTALL_LOCK:
        ledger = getattr(manager, "_explainer_ledger", None)
        if ledger is None:
            ledger = _Ledger(manager, budget or UploadBudget.from_env())
            manager.add_file, manager.remove_file = ledger.add_file, ledger.remove_file
            manager.remove_session_files = ledger.remove_session_files
            manager._explainer_ledger = ledger
    # AppTest's runtime holds a stand-in manager (a MagicMock), which answers any attribute with another mock
    return ledger if isinstance(ledger, _Ledger) else None


def _session_ledger() -> tuple[str, _Ledger] | None:
    """(this run's session id, the installed ledger), or None outside a running server."""
    ctx, ledger = get_script_run_ctx(), install_upload_guard()
    return None if ctx is None or ledger is None else (ctx.session_id, ledger)


def name_upload_visitor() -> None:
    """Install the guard (once per process) and tell it whose this session is, before any uploader is drawn: every
    upload comes from a session some run has drawn, so its visitor is known when it arrives."""
    from ui.view_link import visitor

    if (here := _session_ledger()) is not None:
        session, ledger = here
        ledger.name_visitor(session, visitor())


def say_refused_upload(where: DeltaGenerator) -> None:
    """This session's refused uploads (the newest MAX_REFUSALS_SAID) and why, in one line in `where` (a place the
    caller draws on every run, so the line moves nothing below it), once: the page went on with the sample without a
    word (a loopback review). Taken from the ledger only once drawn: a run interrupted before keeps them for the
    next."""
    if (here := _session_ledger()) is None:
        return
    session, ledger = here
    with ledger.lock:
        refused = list(ledger.refused.get(session, ()))
    if refused:
        where.warning(refusals_text(refused), icon=":material/block:")
        with ledger.lock:
            now = ledger.refused.get(session, [])
            rest = now[len(refused) :] if now[: len(refused)] == refused else now  # newer ones stay to be said
            if rest:
                ledger.refused[session] = rest
            else:
                ledger.refused.pop(session, None)


def bounded_uploads(files: Sequence[UploadedFile], limit: UploadLimit) -> list[UploadedFile]:
    """The files of one multi-file uploader that fit its limit, in the order they came; the rest are dropped
    from the server's memory at once, with one warning line."""
    count, line = limit.kept([f.size for f in files])
    if line is not None:
        st.warning(line, icon=":material/block:")
        let_go(files[count:])
    return list(files[:count])


def let_go(files: Sequence[UploadedFile | None]) -> None:
    """Drop `files` (this session's uploads; None skipped) from the server's memory and from the session's budget.
    Streamlit frees a file only when the visitor removes it from its box or the session ends: an uploader given a new
    key, its old one gone from the page, kept its files (a loopback review: a third network upload in one tab was
    refused, the first two still counted)."""
    ctx = get_script_run_ctx()
    if ctx is not None and runtime.exists():
        for f in files:
            if f is not None:
                runtime.get_instance().uploaded_file_mgr.remove_file(ctx.session_id, f.file_id)
