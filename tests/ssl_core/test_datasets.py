"""The pretraining dataset registry: ImageFolder trees read lazily from disk, CIFAR through
torchvision over the official python-pickle layout, clear errors for missing data."""
import os
import pickle

import numpy as np
import pytest
import torchvision.datasets
import torchvision.datasets.cifar
from PIL import Image

from ssl_core.datasets import DATASETS, downloads, pretrain_folders, pretrain_images, pretrain_split
from tests.conftest import write_image_folder


def write_cifar_replica(root, name="cifar10", n_per_batch=6, seed=0):
    """A miniature copy of the official archive's layout: 5 train batches, a test batch and the
    meta file, each a pickled dict with uint8 rows of 3072 (R, G, B planes of 32x32)."""
    rng = np.random.default_rng(seed)
    folder, batches, label_key, meta_file, meta_key, n_classes = {
        "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], "labels",
                    "batches.meta", "label_names", 10),
        "cifar100": ("cifar-100-python", ["train", "test"], "fine_labels", "meta", "fine_label_names", 100),
    }[name]
    (root / folder).mkdir(parents=True)
    written = {}
    for batch in batches:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, n_classes, n_per_batch).tolist()
        with open(root / folder / batch, "wb") as f:
            pickle.dump({"data": data, label_key: labels, "batch_label": batch}, f)
        written[batch] = (data, labels)
    with open(root / folder / meta_file, "wb") as f:
        pickle.dump({meta_key: [f"class{i}" for i in range(n_classes)]}, f)
    return written


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_reads_the_official_pickle_layout(tmp_path, monkeypatch, name):
    written = write_cifar_replica(tmp_path, name)
    # torchvision checks the md5 of the real archive's files; the replica has its layout, not its bytes.
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    data = {"name": name, "root": str(tmp_path)}
    train, val = pretrain_split(data, "train"), pretrain_split(data, "val")
    train_batches = [b for b in written if b not in ("test_batch", "test")]
    assert len(train) == 6 * len(train_batches) and len(val) == 6
    img, label = train[0]
    first, labels = written[train_batches[0]]
    assert isinstance(img, Image.Image) and img.size == (32, 32)
    assert np.array_equal(np.asarray(img), first[0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert label == labels[0]
    assert len(pretrain_images(data)) == len(train)
    assert pretrain_folders(data) == []  # pickles: no image files to check


def test_missing_cifar_names_the_expected_path_and_never_downloads(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "cifar-10-batches-py")):
        pretrain_split({"name": "cifar10", "root": str(tmp_path)}, "train")
    assert not any(tmp_path.iterdir())


def test_imagenet_is_read_lazily_from_an_image_folder(tmp_path):
    write_image_folder(tmp_path / "train", n_per_class=3)
    dataset = pretrain_split({"name": "imagenet", "root": str(tmp_path)}, "train")
    assert isinstance(dataset, torchvision.datasets.ImageFolder) and len(dataset) == 6
    # Items are read from disk when indexed, not held in memory: a file changed after the dataset
    # was built is seen.
    path = dataset.samples[0][0]
    Image.new("RGB", (16, 16), (255, 0, 0)).save(path)
    assert np.asarray(dataset[0][0])[0, 0].tolist() == [255, 0, 0]
    with pytest.raises(FileNotFoundError, match="ImageNet-1K val split not found"):
        pretrain_split({"name": "imagenet", "root": str(tmp_path)}, "val")
    write_image_folder(tmp_path / "val", n_per_class=1)
    assert pretrain_folders({"name": "imagenet", "root": str(tmp_path)}) == [tmp_path / "train", tmp_path / "val"]


def test_registry_names():
    assert {"shapes", "imagenet", "cifar10", "cifar100"} <= set(DATASETS.names())
    with pytest.raises(ValueError, match="only cifar10, cifar100"):
        downloads({"data": {"pretrain": {"name": "imagenet", "root": "x", "download": True}}})


def test_downloads_one_per_dataset_pretraining_and_transfer():
    pretrain = {"name": "cifar10", "root": "d", "download": True}
    transfer = {"data_root": "d", "datasets": ["cifar10", "dtd"], "download": True}
    assert downloads({"data": {"pretrain": pretrain}, "eval": {"transfer": transfer}}) == {"cifar10": "d", "dtd": "d"}
    assert downloads({"data": {"pretrain": {**pretrain, "download": False}},
                      "eval": {"transfer": {**transfer, "download": False}}}) == {}  # nothing unless asked
    with pytest.raises(ValueError, match="cifar10 is downloaded into data.pretrain.root"):
        downloads({"data": {"pretrain": pretrain}, "eval": {"transfer": {**transfer, "data_root": "other"}}})


def test_multiview_items_are_seeded_per_item_and_leave_the_callers_rng_alone(tiny_folder):
    """An item depends on (seed, epoch, index) only: the same in any order and whatever the global
    RNG holds (so any number of loader workers and a resume see the same data), the global RNG is
    handed back untouched, and the draws are torch.manual_seed(item_seed)'s."""
    import torch

    from ssl_core.augment.common import CommonViewConfig, common_view_transform
    from ssl_core.augment.originals import original_transform
    from ssl_core.datasets.pretrain import MultiViewDataset, item_seed

    view = common_view_transform(CommonViewConfig(size=16, blur_prob=0.0))
    ds = MultiViewDataset(pretrain_images({"name": "shapes", "root": str(tiny_folder)}),
                          lambda img: [view(img), view(img)], original_transform(16), seed=3)
    ds.set_epoch(1)
    torch.manual_seed(123)
    first = ds[5]
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after)  # the caller's stream went on as if no item was drawn
    torch.manual_seed(999)
    _ = ds[2]
    again = ds[5]
    assert all(torch.equal(a, b) for a, b in zip(first[0] + [first[1]], again[0] + [again[1]]))
    assert not torch.equal(first[0][0], first[0][1])  # the two views differ
    ds.set_epoch(2)
    assert not torch.equal(ds[5][0][0], first[0][0])  # a new epoch draws new views
    ds.set_epoch(1)
    torch.manual_seed(item_seed(3, 1, 5))
    img = ds.source[5][0]
    assert torch.equal(view(img), first[0][0])
