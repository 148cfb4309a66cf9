"""Your own network from a file: the lecture's ResNet-18 code's state_dict loads strictly and gives that code's
outputs; a download -> upload round trip gives the same predictions; every bad file gets one line."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest
import torch
from torch import nn
from torchvision import models as tvm

from models import own
from models.own import OwnModelError, load_own_classifier


# The lecture's ResNet-18, as the course writes it (functional ReLUs, biased convs, conv -> pool -> BN -> ReLU stem,
# `gap`, `fc`): a student's `torch.save(model.state_dict(), path)` of this must load and give these outputs.
class LectureResBlock(nn.Module):
    def __init__(self, in_channels, out_channels, downsample):
        super().__init__()
        if downsample:
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1)
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=2), nn.BatchNorm2d(out_channels)
            )
        else:
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
            self.shortcut = nn.Sequential()
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, input):
        shortcut = self.shortcut(input)
        input = nn.ReLU()(self.bn1(self.conv1(input)))
        input = nn.ReLU()(self.bn2(self.conv2(input)))
        input = input + shortcut
        return nn.ReLU()(input)


class LectureNetwork(nn.Module):
    def __init__(self, in_channels, resblock, outputs=1000):
        super().__init__()
        self.layer0 = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )
        self.layer1 = nn.Sequential(resblock(64, 64, downsample=False), resblock(64, 64, downsample=False))
        self.layer2 = nn.Sequential(resblock(64, 128, downsample=True), resblock(128, 128, downsample=False))
        self.layer3 = nn.Sequential(resblock(128, 256, downsample=True), resblock(256, 256, downsample=False))
        self.layer4 = nn.Sequential(resblock(256, 512, downsample=True), resblock(512, 512, downsample=False))
        self.gap = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(512, outputs)

    def forward(self, input):
        input = self.layer0(input)
        input = self.layer1(input)
        input = self.layer2(input)
        input = self.layer3(input)
        input = self.layer4(input)
        input = self.gap(input)
        input = torch.flatten(input, 1)
        return self.fc(input)


def saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    """A network with non-trivial BatchNorm statistics (as after training), in eval mode."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def test_the_lectures_own_resnet18_loads_strictly_and_gives_its_outputs():
    torch.manual_seed(0)
    lecture = trained_like(LectureNetwork(3, LectureResBlock, outputs=7))
    model, info, card = load_own_classifier(saved(lecture.state_dict()), filename="my_resnet.pt", device="cpu")
    assert card.architecture == "lecture-resnet18" and card.width == 1.0 and len(info.categories) == 7
    assert info.categories[0] == "class 0" and info.source == "own" and len(info.weights_sha256) == 64
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), lecture(x))


@pytest.mark.parametrize(
    "make, architecture",
    [
        (lambda: tvm.resnet18(weights=None, num_classes=5), "resnet18"),
        (lambda: own.build("lecture-resnet18", 4, width=0.25), "lecture-resnet18"),
        (lambda: own.build("course-resnet18", 6, width=0.25), "course-resnet18"),
        (lambda: own.build("digits-net", 10), "digits-net"),
    ],
)
def test_a_download_then_upload_gives_the_same_predictions(make, architecture):
    torch.manual_seed(1)
    original = trained_like(make())
    k = original.state_dict()[[n for n in original.state_dict() if n.endswith("weight")][-1]].shape[0]
    card = own.OwnCard(
        architecture=architecture,
        classes=tuple(f"c{i}" for i in range(k)),
        input_size=64,
        channels=1 if architecture == "digits-net" else 3,
        mean=(0.5,) if architecture == "digits-net" else (0.4, 0.4, 0.4),
        std=(0.2,) if architecture == "digits-net" else (0.3, 0.3, 0.3),
        width=0.25 if "0.25" in repr(make) else 1.0,
        name="Mine",
        test_accuracy=0.9,
    )
    weights, card_json = own.export(original, card)
    model, info, loaded = load_own_classifier(weights, card_json, filename="mine.pt", device="cpu")
    assert loaded.architecture == architecture and loaded.classes == card.classes and info.title == "Mine (90.0% test)"
    x = torch.randn(3, loaded.channels, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), original(x))


def test_a_card_names_the_build_set_up_only_where_its_weights_fit_it():
    torch.manual_seed(1)
    digits = trained_like(own.build("digits-net", 10))
    card = own.OwnCard(architecture="digits-net", classes=tuple(str(i) for i in range(10)), input_size=64, channels=1)
    weights = own.export(digits, card)[0]

    def data_of(raw: dict) -> str:
        return load_own_classifier(weights, json.dumps({**json.loads(card.to_json()), **raw}), filename="d.pt")[2].data

    assert data_of({"data": "digits"}) == "digits"
    assert data_of({"data": "resnet-shapes"}) == ""  # a set-up whose network is another architecture
    assert data_of({"data": "imagenet"}) == "" and data_of({}) == ""  # not one of Build's set-ups
    assert data_of({"data": ["digits"]}) == "" and data_of({"data": {"a": 1}}) == ""  # not a name (a review: TypeError)
    with pytest.raises(OwnModelError, match="unknown architecture"):
        load_own_classifier(weights, json.dumps({"architecture": ["digits-net"]}), filename="d.pt")


def good_state() -> dict:
    torch.manual_seed(2)
    return own.build("lecture-resnet18", 3, width=0.125).state_dict()


def a_zip_that_is_not_a_checkpoint() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("notes.txt", "hello")
    return buffer.getvalue()


def recompressed(data: bytes, declare: int = 0) -> bytes:
    """A torch.save zip rewritten with deflated entries (a review over loopback: 2.9 MB of deflated zeros that
    torch.load inflated to 3 GB before any check), or, with `declare`, stored ones of which the largest claims that
    many bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if declare:
                dst.writestr(info, src.read(info), zipfile.ZIP_STORED)
            else:
                dst.writestr(info.filename, src.read(info), zipfile.ZIP_DEFLATED)
    if declare:  # patch the central directory's size of the last entry (the zip's own bookkeeping, unchecked)
        raw = bytearray(out.getvalue())
        at = raw.rfind(b"PK\x01\x02")
        raw[at + 24 : at + 28] = declare.to_bytes(4, "little")
        return bytes(raw)
    return out.getvalue()


def two_directories(data: bytes) -> bytes:
    """A re-attack's bypass of the compression check: a deflated zip (`recompressed`, plain zip, not zip64) given a
    second central directory, a copy marked stored with small sizes, just before the end record, where Python's
    zipfile looks (it trusts the record's size); the record still states the deflated one's offset, which torch.load
    reads (2.9 MB took the server to 4 GB)."""
    end = data.rfind(b"PK\x05\x06")
    (_, _, _, _, count, size, offset, _) = struct.unpack("<IHHHHIIH", data[end : end + 22])
    assert offset + size == end
    copy, at = bytearray(data[offset:end]), 0
    for _ in range(count):
        name, extra, comment = struct.unpack("<HHH", copy[at + 28 : at + 34])
        packed = struct.unpack("<I", copy[at + 20 : at + 24])[0]
        struct.pack_into("<H", copy, at + 10, 0)  # stored
        struct.pack_into("<II", copy, at + 20, packed, packed)
        at += 46 + name + extra + comment
    return data[:end] + bytes(copy) + data[end : end + 20] + b"\x00\x00"


def legacy(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def with_nan() -> dict:
    state = good_state()
    state["fc.weight"][0, 0] = float("nan")
    return state


def renamed(state: dict, old: str, new: str) -> dict:
    state[new] = state.pop(old)
    return state


BAD_FILES = {
    "empty": (lambda: b"", "The file is empty."),
    "a whole pickled model": (
        lambda: saved(own.build("lecture-resnet18", 3, width=0.125)),
        "The file holds a whole pickled model or other Python objects, which this server never unpickles",
    ),
    "truncated": (lambda: saved(good_state())[:5000], "not a complete PyTorch checkpoint"),
    "a zip that is not a checkpoint": (a_zip_that_is_not_a_checkpoint, "not a complete PyTorch checkpoint"),
    # the end record cut short: reading the directory's size from it raised struct.error (found reading the change)
    "a truncated end record": (lambda: b"PK\x03\x04" + bytes(50) + b"PK\x05\x06" + bytes(4), "not a complete"),
    "not a zip": (lambda: b"GIF89a" + bytes(100), "The file is not a PyTorch checkpoint"),
    "a text file renamed .pt": (lambda: b"hello, these are my weights\n" * 3, "The file is not a PyTorch checkpoint"),
    "deflated entries": (
        lambda: recompressed(saved(good_state())),
        "The file's entries are compressed, which `torch.save` never does",
    ),
    "a second, stored-looking directory": (
        lambda: two_directories(recompressed(saved(good_state()))),
        "The file is a zip but not a complete PyTorch checkpoint",
    ),
    "an entry declaring 4 GB": (
        lambda: recompressed(saved(good_state()), declare=4_000_000_000),
        "MB of contents; this server takes networks up to 240 MB",
    ),
    # a loopback review: 650,000 empty views of one value (49 MB) took 1.07 GB while torch.load rebuilt them;
    # 40,000 here make a pickle of 3.5 MB, refused before anything is loaded
    "an index of 40,000 tensors": (
        lambda: saved({f"{i:x}": torch.zeros(1)[0:0] for i in range(40_000)}),
        "The file lists more tensors than any network this server takes",
    ),
    "a safetensors header of 3 MB": (
        lambda: (3 * 2**20).to_bytes(8, "little") + b"{" + b" " * (3 * 2**20 - 2) + b"}",
        "The file lists more tensors than any network this server takes",
    ),
    "the format before PyTorch 1.6": (
        lambda: legacy(good_state()),
        "The file is in PyTorch's format from before version 1.6; load it and save it again",
    ),
    "a list of tensors": (lambda: saved([torch.zeros(2)]), "The file holds a list, not a state_dict"),
    "NaN weights": (lambda: saved(with_nan()), "Its weights contain NaN or infinite values (in `fc.weight`)"),
    "missing keys": (
        lambda: saved({k: v for k, v in good_state().items() if k != "layer2.0.bn1.running_mean"}),
        "The weights lack 1 of the network's tensors: `layer2.0.bn1.running_mean`.",
    ),
    "unexpected keys": (
        lambda: saved({**good_state(), "extra.weight": torch.zeros(1)}),
        "The weights have 1 tensors the network does not: `extra.weight`.",
    ),
    "wrong shapes": (
        lambda: saved({**good_state(), "layer1.0.conv1.weight": torch.zeros(8, 8, 5, 5)}),
        "1 tensors have the wrong shape, first layer1.0.conv1.weight: (8, 8, 5, 5) where the network has (8, 8, 3, 3)",
    ),
    "an unknown architecture": (
        lambda: saved({"encoder.weight": torch.zeros(2, 2)}),
        "These weights are not of a supported architecture",
    ),
    # a few kB claiming a huge network with empty tensors (a review over loopback: 39 kB took the server to 5 GB;
    # a 1.7 kB width-40 stem was killed at 23 GB)
    "an empty head of two million classes": (
        lambda: saved({**good_state(), "fc.weight": torch.empty(2_000_000, 0)}),
        "The head has 2,000,000 outputs; this server takes 1 to 10,000 classes.",
    ),
    "an empty stem of width 40": (
        lambda: saved({**good_state(), "layer0.0.weight": torch.empty(2560, 0, 7, 7)}),
        "The first layer has 2,560 filters (width 40); this server takes networks up to width 4 (256 filters).",
    ),
    "an empty stem of no channels": (
        lambda: saved({**good_state(), "layer0.0.weight": torch.empty(8, 0, 7, 7)}),
        "The first layer takes 0 input channels; images have 1 or 3.",
    ),
    "a view claiming 764 MB": (  # one saved value, a huge shape: it passed the shape check (a review)
        lambda: saved({**good_state(), "fc.weight": torch.zeros(()).expand(10_000, 20_000)}),
        "Its tensors hold 764 MB of values; this server takes networks up to 240 MB.",
    ),
    "a one-dimensional stem": (
        lambda: saved({**good_state(), "layer0.0.weight": torch.zeros(8)}),
        "layer0.0.weight has 1 dimensions where the network's has 4.",
    ),
    "a scalar head": (lambda: saved({**good_state(), "fc.weight": torch.zeros(())}), "fc.weight has 0 dimensions"),
    "a sparse head": (
        lambda: saved({**good_state(), "fc.weight": good_state()["fc.weight"].to_sparse()}),
        "Its tensor `fc.weight` is not a plain (dense) tensor",
    ),
    "a meta head": (
        lambda: saved({**good_state(), "fc.weight": torch.empty(3, 8, device="meta")}),
        "Its tensor `fc.weight` is not a plain (dense) tensor",
    ),
    "a digits head of 9,000 classes, empty": (
        lambda: saved({**own.build("digits-net", 10).state_dict(), "classifier.7.weight": torch.empty(9000, 0)}),
        "2 tensors have the wrong shape, first classifier.7.weight: (9000, 0) where the network has (9000, 512).",
    ),
}


def test_key_names_in_a_refusal_are_shown_as_code():
    """A loopback review: a file's own key names went into the one-line refusal, which the page shows as Markdown (a
    link, bold). They are shown exactly, as Markdown inline code (`code_span`), where nothing is a link or emphasis;
    a backtick in a name cannot end the span."""
    evil = "[click](http://127.0.0.1:9/x) **bold**"
    for state in ({**good_state(), evil: torch.zeros(1)}, {evil: torch.zeros(2, 2)}):
        with pytest.raises(OwnModelError) as caught:
            load_own_classifier(saved(state), filename="bad.pt")
        assert f"`{evil}`" in str(caught.value), caught.value
    with pytest.raises(OwnModelError) as caught:
        load_own_classifier(saved({"a`**b**`": torch.zeros(2, 2)}), filename="bad.pt")
    assert "`a'**b**'`" in str(caught.value), caught.value


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_every_bad_file_is_refused_in_one_line(name):
    make, message = BAD_FILES[name]
    with pytest.raises(OwnModelError) as caught:
        load_own_classifier(make(), filename="bad.safetensors" if "safetensors" in name else "bad.pt")
    text = str(caught.value)
    assert message in text and "\n" not in text, text


def test_a_network_is_not_built_until_the_files_shapes_match_it(monkeypatch):
    """The file's tensors hold the network's every value before the network is made: a file claiming a large one
    with empty tensors is refused having built it on the meta device only (no memory)."""
    bad, good = saved({**good_state(), "fc.weight": torch.empty(3, 0)}), saved(good_state())
    built = []
    real = own.build
    monkeypatch.setattr(own, "build", lambda *a, **k: built.append(torch.empty(0).device.type) or real(*a, **k))
    with pytest.raises(OwnModelError, match="wrong shape"):
        load_own_classifier(bad, filename="bad.pt")
    assert built == ["meta"]
    load_own_classifier(good, filename="good.pt")
    assert built == ["meta", "meta", "cpu"]


def test_a_file_over_the_cap_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setattr(own, "MAX_MODEL_MB", 1)
    with pytest.raises(OwnModelError, match="this server takes weights files up to 1 MB"):
        load_own_classifier(bytes(2 << 20), filename="big.pt")


def test_class_names_and_the_card_are_checked():
    weights = saved(good_state())
    _, info, _ = load_own_classifier(weights, classes=b"cat\n\ndog\nbird\n", filename="x.pt", device="cpu")
    assert info.categories == ("cat", "dog", "bird")
    with pytest.raises(OwnModelError, match="There are 2 class names for a head of 3 outputs"):
        load_own_classifier(weights, classes="cat\ndog", filename="x.pt")
    with pytest.raises(OwnModelError, match="The model card is not JSON"):
        load_own_classifier(weights, card=b"{not json", filename="x.pt")
    with pytest.raises(OwnModelError, match="The card says resnet18 but the weights are the lecture's ResNet-18"):
        load_own_classifier(weights, card='{"architecture": "resnet18"}', filename="x.pt")
    # at most the form's 512 (a re-attack's card asked 1,024 px: ResNet-50's attributions took 3.6 GB)
    with pytest.raises(OwnModelError, match="input size must be a number from 8 to 512"):
        load_own_classifier(weights, card='{"input_size": 1024}', filename="x.pt")


def test_the_same_weights_under_another_card_are_another_cache_key():
    """A review: every cache of a visitor's network was keyed on its weights alone, so a class sharing one checkpoint
    was served one student's class names and normalisation in another's top-5 and maps."""
    weights = saved(good_state())
    one = load_own_classifier(weights, classes=b"cat\ndog\nbird\n", filename="x.pt", device="cpu")[1]
    names = load_own_classifier(weights, classes=b"ant\nbee\nfly\n", filename="x.pt", device="cpu")[1]
    unit = load_own_classifier(
        weights, classes=b"cat\ndog\nbird\n", filename="x.pt", normalisation="unit", device="cpu"
    )[1]
    again = load_own_classifier(weights, classes=b"cat\ndog\nbird\n", filename="x.pt", device="cpu")[1]
    assert len({one.cache_key, names.cache_key, unit.cache_key}) == 3
    assert again.cache_key == one.cache_key and one.weights_sha256 == names.weights_sha256


def test_the_networks_held_stay_within_their_budget_and_go_with_their_sessions():
    import gc

    from models.own import HeldNetworks, network_mb

    a, b = torch.nn.Linear(256, 256), torch.nn.Linear(256, 256)  # 0.25 MB each
    held = HeldNetworks(budget_mb=1.5 * network_mb(a))
    held.make_room(network_mb(a), keep=a)
    with pytest.raises(OwnModelError, match="This server already holds 0 MB of visitors' own networks"):
        held.make_room(network_mb(b), keep=b)  # two would pass the budget
    held.make_room(network_mb(b), replacing=a)  # the session's own network is replaced: not counted
    del a
    gc.collect()  # a closed session's network is freed, and its room with it
    held.make_room(network_mb(b), keep=b)
    assert held.megabytes() == pytest.approx(network_mb(b))


@pytest.mark.parametrize(
    "card, words",
    [
        ("[" * 50_000, "not JSON"),  # RecursionError in the parser
        ('{"input_size": ' + "9" * 5000 + "}", "not JSON"),  # past Python's 4,300 digits: ValueError
        ('{"name": "\\udcff evil"}', "name holds characters that are not text"),
        ('{"classes": ["a\\ud800", "b", "c"]}', "class names holds characters that are not text"),
    ],
    ids=["deep nesting", "huge number", "surrogate name", "surrogate class"],
)
def test_a_hostile_card_gets_one_line(card, words):
    """A loopback attack: each reached the page as Streamlit's error box (only OwnModelError is caught there), the
    surrogate name after the network was kept."""
    with pytest.raises(OwnModelError, match=words):
        load_own_classifier(saved(good_state()), card, filename="x.pt")


def test_a_safetensors_file_loads_like_its_state_dict():
    from safetensors.torch import save

    torch.manual_seed(3)
    original = trained_like(own.build("lecture-resnet18", 3, width=0.125))
    data = save({k: v.contiguous() for k, v in original.state_dict().items()})
    model, _, card = load_own_classifier(data, filename="mine.safetensors", device="cpu")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert card.architecture == "lecture-resnet18" and torch.equal(model(x), original(x))
    with pytest.raises(OwnModelError, match="The file is not a complete safetensors file"):
        load_own_classifier(data[: len(data) // 2], filename="mine.safetensors")


def test_the_digits_network_without_its_card_gets_the_input_builds_loop_trained_it_on():
    """A walk re-uploaded Build's digits network without its card: it was given a 224-px input and [0, 1] pixels,
    though the loop trained it on 64-px digits standardised with the training set's statistics."""
    from models.experiments.lecture_loop import statistics

    buffer = io.BytesIO()
    torch.save(own.build("digits-net", 10, channels=1).state_dict(), buffer)
    _, _, card = load_own_classifier(buffer.getvalue(), filename="mine.pt", device="cpu")
    assert card.architecture == "digits-net" and card.input_size == 64
    assert tuple(card.mean) == statistics("digits")[0] and tuple(card.std) == statistics("digits")[1]
