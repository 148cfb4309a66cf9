import collections

import pytest
import torch

from models.files import sha256_file
from models.hub import checkpoints
from models.hub.bundled import load_bundled
from models.hub.checkpoints import CheckpointError, load_verified, save_bundled


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(checkpoints, "MANIFEST", tmp_path / "manifest.json")
    return tmp_path


def test_save_and_load_round_trip_in_fp16(weights_dir):
    state = {"w": torch.tensor([1.0, 2.5, -3.25]), "n": torch.tensor(7)}
    entry = save_bundled("tiny-model", state, {"metrics": {"accuracy": 0.5}})
    assert entry["file"] == "tiny_model.pt" and entry["sha256"] == sha256_file(weights_dir / "tiny_model.pt")
    assert torch.load(weights_dir / "tiny_model.pt", weights_only=True)["w"].dtype == torch.float16
    loaded, record = load_bundled("tiny-model")
    assert loaded["w"].dtype == torch.float32 and torch.equal(loaded["w"], state["w"])
    assert torch.equal(loaded["n"], state["n"]) and record.metrics["accuracy"] == 0.5


def test_tampered_file_is_refused(weights_dir):
    save_bundled("m", {"w": torch.ones(3)}, {})
    with open(weights_dir / "m.pt", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_bundled("m")


def test_unknown_bundled_name(weights_dir):
    with pytest.raises(CheckpointError, match="no bundled checkpoint"):
        load_bundled("nothing")


def test_missing_file_and_empty_hash(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        load_verified(tmp_path / "nope.pt", "a" * 64)
    (tmp_path / "x.pt").write_bytes(b"123")
    with pytest.raises(CheckpointError, match="trustworthy"):
        load_verified(tmp_path / "x.pt", "")


class Evil:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_pickled_objects_are_never_unpickled(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(1), "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match="could not be read"):
        load_verified(path, sha256_file(path))


def test_non_dict_is_refused(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.ones(1)], path)
    with pytest.raises(CheckpointError, match="state dict"):
        load_verified(path, sha256_file(path)[:8])


def test_ordered_dict_state_is_accepted(tmp_path):
    path = tmp_path / "od.pt"
    torch.save(collections.OrderedDict(w=torch.ones(2)), path)
    assert torch.equal(load_verified(path, sha256_file(path))["w"], torch.ones(2))


def test_the_bytes_loaded_are_the_bytes_checked(tmp_path, monkeypatch):
    """A review: the file was hashed by name, then opened again by name to load, so a file replaced in between
    loaded unchecked. Now one open file is hashed and then read."""
    import os

    path, other = tmp_path / "w.pt", tmp_path / "other.pt"
    torch.save({"w": torch.ones(2)}, path)
    torch.save({"w": torch.zeros(2)}, other)
    digest = sha256_file(path)
    hashed = checkpoints.sha256_stream

    def then_replaced(fh, *args):
        out = hashed(fh, *args)
        os.replace(other, path)  # another file put in its place after the check
        return out

    monkeypatch.setattr(checkpoints, "sha256_stream", then_replaced)
    state, full = checkpoints.verified_state(path, digest[:8])
    assert full == digest and torch.equal(state["w"], torch.ones(2))


def test_a_trained_file_is_written_whole(tmp_path):
    checkpoints.save_trained("quick", {"w": torch.ones(2)}, {}, str(tmp_path))
    assert torch.equal(torch.load(tmp_path / "quick.pt", weights_only=True)["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["quick.pt"]  # no temporary file left beside it


def test_pages_explain_a_missing_bundled_checkpoint(weights_dir):
    """With no trained models at all, the pages say what to run instead of showing a traceback."""
    import streamlit as st

    st.cache_resource.clear()  # models cached by earlier tests would hide the missing files
    try:
        from tests.app_helpers import open_page

        for page in (None, "pages/unet.py"):
            at = open_page(page)
            assert not at.exception
            assert len(at.error) == 1 and "python -m models.train." in at.error[0].value
    finally:
        st.cache_resource.clear()
