"""Feature extractors: offline weights, provenance, batch-size independence, FID rising with noise,
TorchScript and dermo plug-ins, the Inception missing-weights message, LPIPS equal to torchmetrics'."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dermsynth.metrics import fid_from_features, get_extractor, load_feature_model
from dermsynth.metrics.inception import INCEPTION_FILES


def blobs(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """Procedural lesion-like images, uint8 [n, size, size, 3]."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    out = []
    for _ in range(n):
        cx, cy, rad = r.uniform(0.3, 0.7), r.uniform(0.3, 0.7), r.uniform(0.1, 0.3)
        m = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rad**2))[..., None]
        skin, spot = (
            np.array([225, 175, 145]) + r.normal(0, 10, 3),
            np.array([110, 60, 40]) + r.normal(0, 15, 3),
        )
        out.append(np.clip(skin * (1 - m) + spot * m, 0, 255))
    return np.stack(out).astype(np.uint8)


def nchw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def lite():
    return get_extractor("effnet-lite", size=64)  # offline ImageNet EfficientNet-Lite0 at 64 px


def test_effnet_lite_provenance_and_batch_size_independence(lite):
    assert lite.info["weights"].startswith("imagenet:efficientnet-lite0") and lite.info["path"]
    x = nchw(blobs(10))
    whole = lite(x)
    parts = torch.cat([lite(x[i : i + 3]) for i in range(0, 10, 3)])
    assert whole.shape == (10, 1280)
    torch.testing.assert_close(whole, parts, rtol=1e-4, atol=1e-5)


def test_fid_rises_monotonically_with_noise(lite):
    real, base = blobs(48, seed=1), blobs(48, seed=2)
    fr = lite(nchw(real)).numpy()
    r = np.random.default_rng(3)
    fids = []
    for sigma in (0, 10, 25, 50, 90):
        noisy = np.clip(base + r.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)
        fids.append(fid_from_features(fr, lite(nchw(noisy)).numpy()))
    assert all(a < b for a, b in zip(fids, fids[1:], strict=False)), fids


def test_unknown_extractor_and_bad_options():
    with pytest.raises(ValueError, match="unknown feature extractor"):
        get_extractor("clip")
    with pytest.raises(ValueError, match="effnet-lite option"):
        get_extractor("effnet-lite:lite9")
    with pytest.raises(ValueError, match="expected uint8"):
        get_extractor("effnet-lite:random", size=32)(torch.zeros(1, 3, 8, 8))


def test_torchscript_extractor_matches_module(tmp_path):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 5, 3)

        def forward(self, x):
            return self.conv(x).mean((2, 3))

    net = Net().eval()
    path = tmp_path / "feat.pt"
    torch.jit.script(net).save(str(path))
    ext = get_extractor(f"torchscript:{path}")
    x = nchw(blobs(3, 24))
    torch.testing.assert_close(ext(x), net(x.float() / 255))
    assert ext.info["weights"] == "torchscript:feat.pt"
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        get_extractor(f"torchscript:{tmp_path / 'missing.pt'}")


def test_dermo_checkpoint_with_json(tmp_path):
    import timm
    from safetensors.torch import save_file

    m = timm.create_model("test_efficientnet", pretrained=False, num_classes=2).eval()
    save_file(
        {f"model.{k}": v.contiguous() for k, v in m.state_dict().items()}, str(tmp_path / "clf.safetensors")
    )
    (tmp_path / "clf.json").write_text(
        json.dumps({"model": "test_efficientnet", "num_classes": 2, "input_size": 40})
    )
    net, info = load_feature_model(tmp_path / "clf.safetensors")
    x = torch.rand(2, 3, 40, 40)
    torch.testing.assert_close(net(x), m.forward_head(m.forward_features(x), pre_logits=True))
    assert info["input_size"] == 40 and info["weights"] == "checkpoint:clf.safetensors"
    ext = get_extractor(f"dermo:{tmp_path / 'clf.json'}")
    assert ext(nchw(blobs(2, 64))).shape == (2, net.num_features)
    (tmp_path / "clf.json").write_text(json.dumps({"model": "resnet18"}))
    with pytest.raises(ValueError, match="missing or mis-shaped"):
        load_feature_model(tmp_path / "clf.safetensors")


def test_inception_missing_weights_message_names_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("DERMSYNTH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(FileNotFoundError) as e:
        get_extractor("inception")
    msg = str(e.value)
    assert "pt_inception-2015-12-05-6726825d.pth" in msg and "https://" in msg
    assert "--inception-weights" in msg and str(tmp_path / "torch_home") in msg


def test_inception_loads_local_file_and_never_downloads(tmp_path, monkeypatch):
    tf = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    cls = tf.FeatureExtractorInceptionV3

    def no_download(*a, **k):
        raise AssertionError("tried to download")

    monkeypatch.setattr(tf, "load_state_dict_from_url", no_download)
    # build a random state dict of the right architecture, saved under the standard name in the hub cache
    empty = tmp_path / "empty.pth"
    torch.save({}, empty)
    with monkeypatch.context() as m:
        m.setattr(cls, "load_state_dict", lambda self, sd, *a, **k: None)
        sd = cls("x", ["2048"], feature_extractor_weights_path=str(empty)).state_dict()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.delenv("DERMSYNTH_INCEPTION_WEIGHTS", raising=False)
    (tmp_path / "th" / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(sd, tmp_path / "th" / "hub" / "checkpoints" / INCEPTION_FILES[0])
    ext = get_extractor("inception")
    f = ext(nchw(blobs(2, 48)))
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    assert ext.info["weights"] == "pt_inception-2015-12-05" and ext.info["path"].endswith(INCEPTION_FILES[0])


def test_lpips_equals_torchmetrics_with_same_weights(tmp_path, monkeypatch):
    lp = pytest.importorskip("torchmetrics.functional.image.lpips")
    from dermsynth.metrics.lpips import LPIPSVGG16, find_lin_weights, load_lpips

    ref = lp._LPIPS(pretrained=True, net="vgg", pnet_rand=True).eval()  # shipped lin weights, random VGG
    vgg_sd = {}
    for s in [ref.net.slice1, ref.net.slice2, ref.net.slice3, ref.net.slice4, ref.net.slice5]:
        for k, v in s.state_dict().items():
            vgg_sd[f"features.{k}"] = v
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(vgg_sd, path)
    ours, info = load_lpips(path)
    assert info["lin_weights"] == str(find_lin_weights())
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(ours(a, b), ref(a, b).flatten(), rtol=1e-4, atol=1e-6)
        assert float(ours(a, a).abs().max()) < 1e-6
    assert isinstance(ours, LPIPSVGG16)
    monkeypatch.delenv("DERMSYNTH_VGG16_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="vgg16-397923af.pth"):
        load_lpips()


@pytest.mark.slow
def test_vgg16_space_equals_torch_fidelity_vgg16_fc2_relu(tmp_path, monkeypatch):
    """Our precision/recall VGG16 = torch-fidelity's 'vgg16' extractor (fc2_relu) on the same weights."""
    tfv = pytest.importorskip("torch_fidelity.feature_extractor_vgg16")
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.vgg16()  # random weights (138M parameters, no download)
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(net.state_dict(), path)
    monkeypatch.setattr(tfv, "torchvision_load_pretrained_vgg16", lambda **k: net)
    ref = tfv.FeatureExtractorVGG16("vgg16", ["fc2_relu"])
    ext = get_extractor("vgg16", vgg16_weights=path)
    x = nchw(blobs(2, 48))
    with torch.no_grad():
        want = ref(x)[0]
    got = ext(x)
    assert got.shape == (2, 4096) and ext.info["path"] == str(path.resolve())
    # same arithmetic in the same order: only the float32 rounding of two separate module instances
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    monkeypatch.delenv("DERMSYNTH_VGG16_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="vgg16-397923af.pth"):
        get_extractor("vgg16")
