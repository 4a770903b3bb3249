"""`python -m fpe_empirical.embed`: preprocessing, dataset readers, the whole CLIP extraction
path on a tiny randomly initialised CLIP vision model, the resumable cache, offline errors.

Nothing is downloaded: fixtures are built in tmp_path from scikit-learn's bundled photos
(china.jpg, flower.jpg) and digits.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import torch

from fpe_empirical import load_embeddings
from fpe_empirical import embed as E
from fpe_empirical.data import clip as C


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def photos():
    from sklearn.datasets import load_sample_images

    return [np.asarray(im) for im in load_sample_images().images]  # 2 x (427, 640, 3) uint8


def crops(photos, n, size=32, seed=0):
    """``n`` real-photo crops of ``size x size`` (HWC uint8)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        ph = photos[i % 2]
        top, left = rng.integers(0, ph.shape[0] - size), rng.integers(0, ph.shape[1] - size)
        out.append(ph[top : top + size, left : left + size].copy())
    return np.stack(out)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A randomly initialised CLIPVisionModelWithProjection (224 px, patch 32, 16-d output)."""
    pytest.importorskip("transformers", reason="CLIP extraction needs the [clip] extra")
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    cfg = CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        image_size=224, patch_size=32, projection_dim=16,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = CLIPVisionModelWithProjection(cfg)
    path = tmp_path_factory.mktemp("tiny_clip")
    model.save_pretrained(path)
    return str(path)


def cifar_pickle(obj) -> bytes:
    return pickle.dumps(obj, protocol=2)


def make_cifar(root, photos, *, n_train=6, n_test=3, n_classes=3, archive=True):
    """A CIFAR-100-format fixture (python pickles of dicts with bytes keys, like the real one)."""
    files = {}
    splits = {}
    for split, n, seed in (("train", n_train, 1), ("test", n_test, 2)):
        imgs = crops(photos, n, seed=seed)  # (n, 32, 32, 3)
        labels = [i % n_classes for i in range(n)]
        data = imgs.transpose(0, 3, 1, 2).reshape(n, 3072)  # CIFAR rows: R plane, G, B
        files[split] = cifar_pickle({b"data": data, b"fine_labels": labels, b"coarse_labels": [0] * n, b"filenames": [b"x.png"] * n, b"batch_label": b"b"})
        splits[split] = (imgs, np.asarray(labels))
    names = [f"class{c}".encode() for c in range(n_classes)]
    files["meta"] = cifar_pickle({b"fine_label_names": names, b"coarse_label_names": [b"c"]})
    if archive:
        path = root / "cifar-100-python.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            for name, blob in files.items():
                info = tarfile.TarInfo(f"cifar-100-python/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    else:
        path = root / "cifar-100-python"
        path.mkdir()
        for name, blob in files.items():
            (path / name).write_bytes(blob)
    return path, splits


def idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()


def make_fashion(root, *, gz=True):
    """A FashionMNIST-format folder from scikit-learn's digits (8x8 grayscale, 10 classes)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = (d.images * 255 / 16).round().astype(np.uint8)
    parts = {"train": (imgs[:20], d.target[:20]), "t10k": (imgs[20:30], d.target[20:30])}
    for prefix, (x, y) in parts.items():
        for kind, arr in (("images-idx3", x), ("labels-idx1", y)):
            blob = idx_bytes(arr)
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (root / (name + ".gz")).write_bytes(gzip.compress(blob))
            else:
                (root / name).write_bytes(blob)
    return root, parts


def make_image_folder(root, photos, n_classes=5, per_class=2):
    from PIL import Image

    imgs = crops(photos, 2 * n_classes * per_class, size=48, seed=3)
    k = 0
    for split in ("train", "val"):
        for c in range(n_classes):
            d = root / split / f"n{c:08d}"
            d.mkdir(parents=True)
            for j in range(per_class):
                suffix = ".JPEG" if j % 2 == 0 else ".png"
                Image.fromarray(imgs[k]).save(d / f"img{j}{suffix}")
                k += 1
            (d / "notes.txt").write_text("not an image")
    return root


# --------------------------------------------------------------------------- preprocessing


def _reference_processor():
    transformers = pytest.importorskip("transformers", reason="CLIP extraction needs the [clip] extra")

    cls = getattr(transformers, "CLIPImageProcessorPil", None)
    if cls is None:  # older transformers: the classic (PIL/NumPy) processor
        cls = transformers.CLIPImageProcessor
    return cls()


def test_preprocess_matches_clip_image_processor(photos):
    """clip_preprocess equals transformers' CLIPImageProcessor on real photos, odd aspect
    ratios (portrait, landscape, tiny) and a grayscale image (max abs diff < 1e-5)."""
    proc = _reference_processor()
    cases = [photos[0], photos[1], photos[0][:100, :37], photos[1][:31, :250], photos[1][5:60, 7:62],
             np.repeat((np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)[..., None], 3, 2)]
    for img in cases:
        ref = proc(images=[img], return_tensors="np")["pixel_values"]
        ours = E.clip_preprocess([img])
        assert ours.shape == ref.shape == (1, 3, 224, 224)
        assert np.abs(ours - ref).max() < 1e-5
    gray = E.clip_preprocess([cases[-1][..., 0]])  # HxW array: converted to RGB
    np.testing.assert_array_equal(gray, E.clip_preprocess([cases[-1]]))


def test_preprocess_geometry():
    """Shorter side to S, longer int(S * long / short), centre crop: a marker column at the
    exact centre of a wide image lands at the centre of the crop."""
    img = np.zeros((50, 200, 3), np.uint8)
    img[:, 99:101] = 255
    x = E.clip_preprocess([img], size=20)
    assert x.shape == (1, 3, 20, 20)
    col = x[0, 0].mean(0)
    assert set(np.argsort(col)[-2:]) == {9, 10}
    with pytest.raises(ValueError, match="size must be an integer >= 1"):
        E.clip_preprocess([img], size=0)


# --------------------------------------------------------------------------- readers


@pytest.mark.parametrize("archive", [True, False])
def test_read_cifar100(tmp_path, photos, archive):
    path, splits = make_cifar(tmp_path, photos, archive=archive)
    d = E.read_cifar100(path if archive else tmp_path)  # folder: the parent works too
    for split in ("train", "test"):
        np.testing.assert_array_equal(d[split][0], splits[split][0])  # (n, 32, 32, 3) HWC
        np.testing.assert_array_equal(d[split][1], splits[split][1])
    assert d["classes"] == ["class0", "class1", "class2"]


def test_cifar_unpickler_refuses_foreign_globals(tmp_path):
    """A pickle that would call os.system is refused at find_class: nothing runs."""

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    blob = pickle.dumps({b"data": Evil()}, protocol=2)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name in ("train", "test", "meta"):
        (folder / name).write_bytes(blob)
    with pytest.raises(ValueError, match=r"refusing to load global (posix|os|nt)\.system"):
        E.read_cifar100(folder)
    assert not (tmp_path / "pwned").exists()


def test_cifar_missing_and_broken(tmp_path):
    with pytest.raises(ValueError, match=r"CIFAR-100 not found .*cifar-100-python.tar.gz"):
        E.read_cifar100(tmp_path / "nope.tar.gz")
    (tmp_path / "bad.tar.gz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable tar archive"):
        E.read_cifar100(tmp_path / "bad.tar.gz")


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_and_fashion(tmp_path, gz):
    root, parts = make_fashion(tmp_path, gz=gz)
    d = E.read_fashionmnist(root)
    np.testing.assert_array_equal(d["train"][0], parts["train"][0])
    np.testing.assert_array_equal(d["test"][1], parts["t10k"][1])
    assert d["train"][0].shape == (20, 8, 8) and d["test"][1].dtype == np.int64


def test_read_idx_errors(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(ValueError, match="bad magic"):
        E.read_idx(p)
    p.write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 1) + b"\x00" * 4)
    with pytest.raises(ValueError, match="only unsigned-byte data"):
        E.read_idx(p)
    p.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"abc")
    with pytest.raises(ValueError, match=r"3 data bytes for dimensions \(5,\)"):
        E.read_idx(p)
    with pytest.raises(ValueError, match=r"FashionMNIST file train-images-idx3-ubyte\(\.gz\) not found.*fashion-mnist"):
        E.read_fashionmnist(tmp_path)


def test_choose_classes_seeded_sorted():
    classes = [f"n{i:03d}" for i in range(1000)]
    a = E.choose_classes(classes, 100, 0)
    assert a == sorted(a) and len(set(a)) == 100 and a == E.choose_classes(classes, 100, 0)
    assert a != E.choose_classes(classes, 100, 1)
    with pytest.raises(ValueError, match="n_classes must be <= the 1000 classes"):
        E.choose_classes(classes, 1001, 0)


# --------------------------------------------------------------------------- extraction


def direct_embeddings(model_dir, images):
    """The reference: transformers' processor + the model's image_embeds."""
    from transformers import CLIPVisionModelWithProjection

    net = CLIPVisionModelWithProjection.from_pretrained(model_dir, local_files_only=True).eval()
    x = torch.from_numpy(_reference_processor()(images=list(images), return_tensors="np")["pixel_values"])
    with torch.inference_mode():
        return net(pixel_values=x).image_embeds.numpy()


def test_cifar_clip_extraction_end_to_end(tmp_path, photos, tiny_clip):
    """The whole path: CIFAR archive -> restricted unpickler -> PIL preprocessing -> CLIP
    vision model -> chunked cache -> .npz that load_embeddings accepts, equal to running
    transformers' own processor and the model directly."""
    path, splits = make_cifar(tmp_path, photos)
    out = E.extract_embeddings("cifar100", path, tmp_path / "c.npz", model=tiny_clip, chunk_size=4, batch_size=3, device="cpu", offline=True)
    d = load_embeddings(out)
    assert (d.n_train, d.n_test, d.n_features, d.n_classes) == (6, 3, 16, 3)
    assert d.class_names == ("class0", "class1", "class2")
    assert d.meta["normalized"] is False and d.meta["features"] == "clip"
    assert "unnormalised" in d.meta["embedding"]
    for split, X in (("train", d.X_train), ("test", d.X_test)):
        ref = direct_embeddings(tiny_clip, splits[split][0])
        np.testing.assert_allclose(X.numpy(), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(d.y_train.numpy(), splits["train"][1])
    assert not (tmp_path / "c.npz.cache").exists()  # removed after success


def test_normalize_and_safetensors(tmp_path, photos, tiny_clip):
    path, _ = make_cifar(tmp_path, photos, n_train=3, n_test=3)
    out = E.extract_embeddings("cifar100", path, tmp_path / "c.safetensors", model=tiny_clip, normalize=True, device="cpu", offline=True)
    d = load_embeddings(out)
    np.testing.assert_allclose(d.X_train.norm(dim=1).numpy(), 1.0, rtol=1e-5)
    assert d.meta["normalized"] is True


def test_resume_after_stop_and_corrupt_chunk(tmp_path, photos, tiny_clip, monkeypatch, capsys):
    """A run stopped after one chunk leaves that chunk in the cache; the next run computes
    only the missing images and gives the same file as an uninterrupted run. A corrupt
    chunk is detected and recomputed, never silently read."""
    path, _ = make_cifar(tmp_path, photos)  # 6 train + 3 test = chunks of 2: 3 + 2
    kw = dict(model=tiny_clip, chunk_size=2, device="cpu", offline=True)
    full = load_embeddings(E.extract_embeddings("cifar100", path, tmp_path / "full.npz", **kw))

    seen = []
    real = C.clip_preprocess
    monkeypatch.setattr(C, "clip_preprocess", lambda images, size=224: seen.append(len(images)) or real(images, size))
    out = tmp_path / "r.npz"
    assert E.extract_embeddings("cifar100", path, out, max_chunks=1, **kw) is None
    cache = tmp_path / "r.npz.cache"
    assert sorted(p.name for p in cache.iterdir()) == ["manifest.json", "train-000000.npy"]
    assert sum(seen) == 2 and not out.exists()
    seen.clear()
    assert E.extract_embeddings("cifar100", path, out, max_chunks=2, **kw) is None
    assert sum(seen) == 4
    (cache / "train-000001.npy").write_bytes(b"\x93NUMPY garbage")  # broken chunk
    seen.clear()
    assert E.extract_embeddings("cifar100", path, out, keep_cache=True, **kw) == out
    assert sum(seen) == 2 + 3  # the broken chunk and the 3 test images, nothing else
    assert "train-000001.npy is unreadable; recomputing it" in capsys.readouterr().err
    got = load_embeddings(out)
    assert torch.equal(got.X_train, full.X_train) and torch.equal(got.X_test, full.X_test)
    # the kept cache belongs to these settings: other settings are refused
    with pytest.raises(ValueError, match="was made with other settings"):
        E.extract_embeddings("cifar100", path, out, normalize=True, **kw)


def test_fashion_pixels_and_clip(tmp_path, tiny_clip):
    root, parts = make_fashion(tmp_path)
    d = load_embeddings(E.extract_embeddings("fashionmnist", root, tmp_path / "f.npz", features="pixels"))
    np.testing.assert_allclose(d.X_train.numpy(), parts["train"][0].reshape(20, 64) / 255.0, rtol=1e-6)
    assert d.meta["features"] == "pixels" and d.class_names[0] == "T-shirt/top"
    c = load_embeddings(E.extract_embeddings("fashionmnist", root, tmp_path / "fc.npz", model=tiny_clip, device="cpu", offline=True, max_per_class=1))
    assert c.n_features == 16 and c.n_train == len(np.unique(parts["train"][1]))


def test_imagenet100_folder(tmp_path, photos, tiny_clip):
    root = make_image_folder(tmp_path / "in", photos)
    out = E.extract_embeddings("imagenet100", root, tmp_path / "in3.npz", n_classes=3, class_seed=4, model=tiny_clip, device="cpu", offline=True)
    d = load_embeddings(out)
    chosen = E.choose_classes([f"n{c:08d}" for c in range(5)], 3, 4)
    assert list(d.class_names) == chosen
    saved = json.loads((tmp_path / "in3.npz.classes.json").read_text())
    assert saved == {"class_seed": 4, "classes": chosen}
    assert (d.n_train, d.n_test, d.n_classes) == (6, 6, 3)
    np.testing.assert_array_equal(d.y_train.numpy(), [0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dataset="mnist"), "dataset must be one of"),
        (dict(features="pixels", dataset="imagenet"), "needs same-sized images"),
        (dict(out="x.csv"), r"out must end in \.npz or \.safetensors"),
        (dict(chunk_size=0), "chunk_size must be an integer >= 1"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    kw = {"dataset": "cifar100", "data": tmp_path, "out": tmp_path / "o.npz", **kwargs}
    with pytest.raises(ValueError, match=match):
        E.extract_embeddings(kw.pop("dataset"), kw.pop("data"), kw.pop("out"), **kw)


# --------------------------------------------------------------------------- CLI, offline


def test_cli_missing_model_offline(tmp_path, photos, monkeypatch, capsys):
    """No weights in the cache and offline: exit 2, one line naming the model and where to put it."""
    pytest.importorskip("transformers", reason="CLIP extraction needs the [clip] extra")
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(E.DEFAULT_MODEL, "config.json"), str):
        pytest.skip("the real CLIP weights are in this machine's Hugging Face cache")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path, _ = make_cifar(tmp_path, photos, n_train=3, n_test=3)
    code = E.main(["cifar100", "--data", str(path), "--out", str(tmp_path / "o.npz"), "--offline"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "openai/clip-vit-base-patch16" in err and "HF_HOME" in err and "huggingface-cli download" in err


def test_cli_missing_data_subprocess(tmp_path):
    """The real CLI in a fresh process: a missing data set is exit 2, one line with the URL."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    r = subprocess.run(
        [sys.executable, "-m", "fpe_empirical.embed", "cifar100", "--data", str(tmp_path / "cifar-100-python.tar.gz"), "--out", str(tmp_path / "o.npz")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz" in lines[0]


def test_cli_success_and_stop(tmp_path, photos, tiny_clip, capsys):
    path, _ = make_cifar(tmp_path, photos, n_train=3, n_test=3)
    out = tmp_path / "o.npz"
    base = ["cifar100", "--data", str(path), "--out", str(out), "--model", tiny_clip, "--offline", "--device", "cpu", "--chunk-size", "2"]
    assert E.main(base + ["--max-chunks", "1"]) == 3
    assert "run the same command again" in capsys.readouterr().err
    assert E.main(base) == 0
    assert load_embeddings(out).n_train == 3
    assert E.main(["cifar100", "--data", str(path), "--out", str(out), "--batch-size", "0"]) == 2
