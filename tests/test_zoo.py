import threading
import time

import pytest
import torch
import torchvision
from PIL import Image

from explain.methods.classify import prepare, top_k
from models.classifiers import BUNDLED_CLASSIFIER, CLASSIFIERS, load_classifier, weight_status
from models.data.preprocess import to_tensor
from models.data.shapes import SHAPE_CLASSES, classification_set
from models.files import sha256_file
from models.hub import weights_cache
from models.hub.bundled import bundled
from models.lock import lock_for
from tests.bounds import within

IMAGENET = [n for n, s in CLASSIFIERS.items() if s.weights is not None]


def test_zoo_lists_the_course_classifiers():
    assert set(IMAGENET) == {"resnet18", "resnet50", "alexnet", "vgg16"}
    assert BUNDLED_CLASSIFIER in CLASSIFIERS


def test_bundled_model_reaches_its_stated_accuracy():
    model, info = load_classifier(BUNDLED_CLASSIFIER)
    assert info.source == "bundled" and not info.is_fallback and not model.training
    assert info.categories == SHAPE_CLASSES
    x, y = classification_set(600, seed=20_000, size=64)  # a seed neither training nor the stated test used
    with torch.no_grad():
        predicted = model(to_tensor(x).to(next(model.parameters()).device)).argmax(1).cpu()
        accuracy = (predicted == torch.from_numpy(y)).float().mean().item()
    stated = bundled(BUNDLED_CLASSIFIER).metrics["accuracy"]
    assert stated >= 0.9
    assert accuracy >= stated - 0.03


def test_bundled_model_classifies_a_large_generated_image_through_its_preprocessing():
    import numpy as np

    from models.data.shapes import make_shape_image

    model, info = load_classifier(BUNDLED_CLASSIFIER)
    hits = 0
    for label in range(len(SHAPE_CLASSES)):
        arr, _ = make_shape_image(np.random.default_rng(label), 192, label)
        hits += (
            top_k(model, prepare(Image.fromarray(arr), info.preprocess, torch.device("cpu")), info.categories)[0].index
            == label
        )
    assert hits >= 5


@pytest.mark.parametrize("name", IMAGENET)
def test_offline_without_cache_falls_back_at_once_and_says_why(name, torch_home):
    t0 = time.perf_counter()
    _model, info = load_classifier(name)
    assert time.perf_counter() - t0 < within(10)
    assert info.is_fallback and info.source == "bundled" and info.name == BUNDLED_CLASSIFIER
    assert "offline" in info.reason and weights_cache.weights_path(CLASSIFIERS[name].weights).name in info.reason
    assert weight_status(name) == "unavailable"


def write_random_weights(name: str):
    weights = CLASSIFIERS[name].weights
    reference = torchvision.models.get_model(name, weights=None)
    path = weights_cache.weights_path(weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(reference.state_dict(), path)
    return reference, path


def test_cached_torchvision_weights_load_through_the_real_path(torch_home, monkeypatch):
    reference, path = write_random_weights("resnet18")
    assert path.name == "resnet18-f37072fd.pth"  # the name torchvision itself would look for
    assert weight_status("resnet18") == "damaged"  # random weights cannot match the real file's hash prefix
    # Trust this file's own hash instead.
    monkeypatch.setattr(weights_cache, "expected_sha_prefix", lambda w: sha256_file(path)[:8])
    assert weight_status("resnet18") == "cached"
    model, info = load_classifier("resnet18")
    assert info.source == "cache" and not info.is_fallback and len(info.categories) == 1000
    assert "ImageNet" in info.metrics
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key].cpu(), value)  # the model is on the test device
    batch = prepare(Image.new("RGB", (300, 200)), info.preprocess, torch.device("cpu"))
    assert batch.shape == (1, 3, 224, 224)
    assert len(top_k(model, batch, info.categories)) == 5


def test_cached_file_with_the_wrong_hash_is_not_trusted(torch_home):
    write_random_weights("alexnet")
    _, info = load_classifier("alexnet")
    assert info.is_fallback and "SHA-256" in info.reason


def test_statuses(torch_home):
    assert weight_status(BUNDLED_CLASSIFIER) == "bundled"
    assert weight_status("resnet50") == "unavailable"


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="resnet18"):
        load_classifier("googlenet")


def test_one_lock_per_model_across_threads():
    model, _ = load_classifier(BUNDLED_CLASSIFIER)
    other, _ = load_classifier(BUNDLED_CLASSIFIER)
    locks = []
    threads = [threading.Thread(target=lambda: locks.append(lock_for(model))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(lock is locks[0] for lock in locks)
    assert lock_for(other) is not locks[0]
