import io
import socket
import urllib.request

import pytest
import torch

from models.classifiers import CLASSIFIERS
from models.files import sha256_file
from models.hub import weights_cache

WEIGHTS = CLASSIFIERS["resnet18"].weights


def test_cache_path_is_torchvisions(torch_home):
    path = weights_cache.weights_path(WEIGHTS)
    assert path == torch_home / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert weights_cache.expected_sha_prefix(WEIGHTS) == "f37072fd"
    assert not weights_cache.is_cached(WEIGHTS)


def test_offline_mode_answers_without_probing(monkeypatch):
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("probed the network"))
    ok, why = weights_cache.network_available(WEIGHTS.url)
    assert not ok and "offline" in why


def test_failed_probe_is_remembered(monkeypatch):
    monkeypatch.delenv("EXPLAINER_OFFLINE")
    weights_cache.forget_network_state()
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    for _ in range(3):
        ok, why = weights_cache.network_available("https://weights.invalid/x.pth")
        assert not ok and "weights.invalid" in why
    assert len(calls) == 1
    weights_cache.forget_network_state()


def test_check_again_probes_the_network_at_most_every_30_seconds(monkeypatch):
    """A review: any visitor's "Check again" forgot the probes (each up to 2 s under the lock every status waits on)
    and reloaded every loaded model; now it forgets them at most every RECHECK_SECONDS, and models are keyed on their
    weights' status, so nothing needs clearing."""
    clock = [1000.0]
    monkeypatch.setattr(weights_cache, "_clock", lambda: clock[0])  # this module's clock, not the process's
    monkeypatch.setattr(weights_cache, "_last_recheck", [-float("inf")])
    assert weights_cache.check_network_again()
    clock[0] += weights_cache.RECHECK_SECONDS - 1
    assert not weights_cache.check_network_again()
    clock[0] += 1
    assert weights_cache.check_network_again()


def test_check_again_within_30_seconds_says_why_nothing_was_asked(monkeypatch):
    """A review: a second press within 30 s did nothing, without a word. The clock stands still (on the process's
    own, a loaded machine could put 30 s between the presses: a race review)."""
    from tests.app_helpers import open_page

    monkeypatch.setattr(weights_cache, "_clock", lambda: 1000.0)
    monkeypatch.setattr(weights_cache, "_last_recheck", [-float("inf")])
    at = open_page("pages/home.py")
    press = next(b for b in at.button if b.label == "Check again")
    press.click().run()
    assert not any("asked less than 30 s ago" in c.value for c in at.sidebar.caption)
    next(b for b in at.button if b.label == "Check again").click().run()
    assert not at.exception and any("asked less than 30 s ago" in c.value for c in at.sidebar.caption)


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def fake_network(monkeypatch, payload: bytes):
    monkeypatch.setattr(weights_cache, "network_available", lambda url, timeout=2.0: (True, ""))
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: FakeResponse(payload))


def test_download_verifies_and_reports_progress(torch_home, monkeypatch, tmp_path):
    src = tmp_path / "w.pth"
    torch.save({"w": torch.arange(300_000.0)}, src)
    payload = src.read_bytes()
    fake_network(monkeypatch, payload)
    monkeypatch.setattr(weights_cache, "expected_sha_prefix", lambda w: sha256_file(src)[:8])
    seen = []
    path = weights_cache.download(WEIGHTS, lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == payload
    assert seen[-1] == (len(payload), len(payload)) and len(seen) >= 2
    assert list(path.parent.glob("*.part")) == []


def test_two_visitors_asking_for_one_file_download_it_once(torch_home, monkeypatch, tmp_path):
    """A review: a picker's download had no lock, so visitors choosing one model at once each downloaded it."""
    import threading

    from tests.bounds import within

    src = tmp_path / "w.pth"
    torch.save({"w": torch.arange(1000.0)}, src)
    monkeypatch.setattr(weights_cache, "network_available", lambda url, timeout=2.0: (True, ""))
    monkeypatch.setattr(weights_cache, "expected_sha_prefix", lambda w: sha256_file(src)[:8])
    opened, release = [], threading.Event()

    def slow(url, timeout):
        opened.append(url)
        assert release.wait(within(30))  # the first download holds on until the second visitor has asked
        return FakeResponse(src.read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", slow)

    class Counting:  # the lock every download takes to find its file's lock: the second's exit means it is waiting
        def __init__(self) -> None:
            self.lock, self.exits, self.both = threading.Lock(), 0, threading.Event()

        def __enter__(self):
            self.lock.acquire()

        def __exit__(self, *exc):
            self.exits += 1
            self.lock.release()
            if self.exits == 2:
                self.both.set()

    asked = Counting()
    monkeypatch.setattr(weights_cache, "_downloads_lock", asked)
    paths = []
    visitors = [threading.Thread(target=lambda: paths.append(weights_cache.download(WEIGHTS))) for _ in range(2)]
    for v in visitors:
        v.start()
    assert asked.both.wait(within(30))  # both have asked while the first download holds on
    release.set()
    for v in visitors:
        v.join(within(30))
    assert len(opened) == 1 and len(paths) == 2 and paths[0] == paths[1] and paths[0].read_bytes() == src.read_bytes()


def test_corrupt_download_leaves_nothing_behind(torch_home, monkeypatch):
    fake_network(monkeypatch, b"not the weights")
    with pytest.raises(weights_cache.WeightsUnavailable, match="corrupt"):
        weights_cache.download(WEIGHTS)
    assert not weights_cache.is_cached(WEIGHTS)
    assert list(weights_cache.checkpoint_dir().glob("*")) == []


def test_offline_download_says_why():
    with pytest.raises(weights_cache.WeightsUnavailable, match="offline"):
        weights_cache.download(WEIGHTS)


def test_unwritable_cache_falls_back_like_an_offline_one(tmp_path, monkeypatch):
    """A read-only or broken cache folder with the network reachable: no OSError reaches a page."""
    from models.classifiers import load_classifier, weight_status

    blocker = tmp_path / "torch_home_is_a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TORCH_HOME", str(blocker))
    fake_network(monkeypatch, b"never read")
    with pytest.raises(weights_cache.WeightsUnavailable, match="cache cannot be written"):
        weights_cache.download(WEIGHTS)
    _, info = load_classifier("resnet18")
    assert info.is_fallback and "cache cannot be written" in info.reason
    monkeypatch.setattr(weights_cache, "cache_writable", lambda: False)
    assert weight_status("resnet18") == "unavailable"  # not "downloads on first use"


def test_junk_cached_file_is_not_called_cached(torch_home):
    from models.classifiers import weight_status

    path = weights_cache.weights_path(WEIGHTS)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"junk, not the weights")
    assert weights_cache.is_cached(WEIGHTS) and not weights_cache.is_verified(WEIGHTS)
    assert weight_status("resnet18") == "damaged"
