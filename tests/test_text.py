"""Counts in captions read as English: one epoch, two epochs."""

from models.text import counted


def test_counted_is_singular_for_one_only() -> None:
    assert counted(1, "epoch") == "1 epoch"
    assert counted(0, "epoch") == "0 epochs"
    assert counted(2, "run") == "2 runs"
    assert counted(1300, "image") == "1,300 images"
    assert counted(3, "box", "boxes") == "3 boxes"
