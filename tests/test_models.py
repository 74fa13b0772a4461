"""The model registry: cards, sha256 checks, names wherever paths are taken, and the shipped models'
reference outputs on images the test makes itself."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dermsynth.models import registry
from dermsynth.models.publish import publish_model

CARD = {
    "version": 1,
    "kind": "artifact-classifier",
    "architecture": "tiny",
    "summary": "test model",
    "training": {
        "data": "none",
        "data_licence": "-",
        "labels": "-",
        "command": "-",
        "hardware": "-",
        "hours": 0,
    },
    "figures": {},
}


def _tiny_bias_model(tmp_path):
    from dermsynth.bias.model import build_model, save_model

    model, _ = build_model("tf_efficientnet_lite0", 2, None)
    meta = {
        "model": "tf_efficientnet_lite0",
        "artifacts": ["dark_corner", "hair"],
        "image_size": 32,
        "tta": False,
        "thresholds": {"dark_corner": 0.5, "hair": 0.5},
        "choice": {"dark_corner": "model", "hair": "model"},
        "heuristic": {"dark_corner": {"threshold": 0.3, "f1": 0.1}, "hair": {"threshold": 0.3, "f1": 0.1}},
    }
    return save_model(model, meta, tmp_path / "export").parent, model


def test_publish_list_card_resolve_and_tamper(tmp_path):
    src, _ = _tiny_bias_model(tmp_path)
    root = tmp_path / "reg"
    publish_model(src, "toy-artifacts", CARD, root, half=True)
    assert registry.list_models(root) == ["toy-artifacts"]
    c = registry.card("toy-artifacts", root)
    assert set(c.files) == {"model.json", "model.safetensors"}
    assert registry.resolve("toy-artifacts", root) == root / "toy-artifacts"
    # a path wins over a name; an unknown name lists what ships
    assert registry.resolve_spec(src, root=root) == src
    with pytest.raises(FileNotFoundError, match="toy-artifacts"):
        registry.resolve_spec("no-such-model", root=root)
    with pytest.raises(ValueError, match="artifact-classifier"):
        registry.resolve_spec("toy-artifacts", kind="generator", root=root)
    # one flipped byte is caught by the sha256 check, naming the file
    w = root / "toy-artifacts" / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="model.safetensors: sha256 differs"):
        registry.resolve("toy-artifacts", root)


def test_publish_refuses_incomplete_card(tmp_path):
    src, _ = _tiny_bias_model(tmp_path)
    bad = {k: v for k, v in CARD.items() if k != "training"}
    with pytest.raises(ValueError, match="training"):
        publish_model(src, "x", bad, tmp_path / "reg")


def test_fp16_copy_loads_into_float32_and_predicts_alike(tmp_path, monkeypatch):
    """The shipped copies are float16; loading by name gives float32 parameters and near-equal outputs."""
    import torch

    from dermsynth.bias.model import load_model, predict_batch

    src, _ = _tiny_bias_model(tmp_path)
    root = tmp_path / "reg"
    publish_model(src, "toy-artifacts", CARD, root, half=True)
    monkeypatch.setenv(registry.ENV_ROOT, str(root))
    full, _ = load_model(src)
    half, meta = load_model("toy-artifacts")
    assert all(p.dtype == torch.float32 for p in half.parameters())
    imgs = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    a, b = predict_batch(full, imgs, False), predict_batch(half, imgs, False)
    # float16 storage keeps ~3 significant digits of each weight; probabilities move far less than 0.01
    np.testing.assert_allclose(a, b, atol=1e-2)


def test_shipped_cards_are_complete():
    for name in registry.list_models():
        c = registry.card(name)
        for k in registry.REQUIRED_KEYS:
            assert c.data[k] not in (None, "", {}), (name, k)
        for k in registry.TRAINING_KEYS:
            assert k in c.data["training"], (name, k)
        registry.verify(c)


def reference_images(n: int = 4, size: int = 256) -> list[np.ndarray]:
    """The images the shipped models' reference outputs were computed on (scripts/ship_models.py)."""
    from dermsynth.data.phantom import render_phantom

    return [render_phantom(i, 2017, size, label=i % 2).image for i in range(n)]


SHIPPED = ("isic2017-artifacts", "isic2017-melanoma", "isic2017-gen")


def _shipped(name):
    assert name in registry.list_models(), f"{name} must ship inside the package (docs/models.md)"
    return registry.card(name)


def test_everything_shipped_fits_the_budget():
    """Issue 24: the repository's weights and kept training state stay within 100 MB in all."""
    from pathlib import Path

    kept = Path(__file__).resolve().parents[1] / "training"
    files = [p for d in (registry.WEIGHTS_DIR, kept) for p in d.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 100 * 10**6


def test_shipped_artifact_model_reference_outputs():
    from dermsynth.bias.model import load_model, predict_proba

    c = _shipped("isic2017-artifacts")
    model, meta = load_model("isic2017-artifacts")
    ref = c.data["reference"]
    got = predict_proba(model, reference_images(ref["n"]), meta["image_size"], tta=ref["tta"])
    # reference values were computed in float32 on another CPU; kernels differ by ~1e-6
    np.testing.assert_allclose(got, np.array(ref["outputs"]), atol=2e-3)


def test_shipped_melanoma_model_reference_outputs():
    from dermsynth.classify.exported import load_classifier, predict_images

    c = _shipped("isic2017-melanoma")
    clf, meta = load_classifier("isic2017-melanoma")
    ref = c.data["reference"]
    got = predict_images(clf, meta, reference_images(ref["n"]), tta=ref["tta"])
    np.testing.assert_allclose(got, np.array(ref["outputs"]), atol=2e-3)


def test_shipped_generator_reference_outputs():
    import torch

    from dermsynth.gan.checkpoint import load_generator
    from dermsynth.gan.generate import seed_z

    c = _shipped("isic2017-gen")
    G = load_generator("isic2017-gen")
    ref = c.data["reference"]
    z = torch.from_numpy(np.stack([seed_z(s, G.z_dim) for s in ref["seeds"]]))
    cl = torch.nn.functional.one_hot(torch.tensor(ref["classes"]), G.c_dim).float()
    with torch.no_grad():
        img = G(z, cl, truncation_psi=1.0, noise_mode="const")
    got = img.float().mean(dim=(2, 3)).numpy()  # per-image channel means in [-1, 1]
    np.testing.assert_allclose(got, np.array(ref["channel_means"]), atol=2e-3)


def test_models_cli_list_and_show(tmp_path):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    r = CliRunner().invoke(app, ["models", "list"])
    assert r.exit_code == 0, r.output
    for name in registry.list_models():
        assert name in r.output
        shown = CliRunner().invoke(app, ["models", "show", name, "--json"])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["name"] == name
    r = CliRunner().invoke(app, ["models", "show", "no-such-model"])
    assert r.exit_code != 0 and "not a shipped model" in r.output


def test_shipped_files_name_weights_and_data_not_paths_of_the_training_machine():
    """Issue 27: model.json / network.json ship names (weights file, data folder), never an absolute path."""
    import json
    import re
    from pathlib import Path

    from dermsynth.models import resolve

    for name in ("isic2017-artifacts", "isic2017-melanoma", "isic2017-gen"):
        folder = Path(resolve(name))
        folder = folder if folder.is_dir() else folder.parent
        for f in sorted(folder.glob("*.json")):
            text = f.read_text()
            json.loads(text)
            assert not re.search(r'"(/|[A-Za-z]:\\\\)[^"]*"', text), f"{f}: an absolute path ships"
