"""Network export format: safetensors + JSON round trip, clear errors, nothing pickled."""

from __future__ import annotations

import json

import pytest
import torch

from dermsynth.gan import build_networks, load_discriminator, load_generator, load_networks, save_network


@pytest.fixture()
def tiny_nets():
    torch.manual_seed(0)
    G, D = build_networks("tiny", 32, 2)
    G_ema, _ = build_networks("tiny", 32, 2)
    with torch.no_grad():
        G.mapping.w_avg.normal_()
        G_ema.mapping.w_avg.normal_()
    return G.eval(), D.eval(), G_ema.eval()


def test_round_trip_reproduces_outputs(tmp_path, tiny_nets):
    G, D, G_ema = tiny_nets
    weights, meta_json = save_network(tmp_path / "net", G=G, D=D, G_ema=G_ema, meta={"kimg": 12, "run": "x"})
    assert weights.name == "net.safetensors" and meta_json.name == "net.json"
    info = json.loads(meta_json.read_text())
    assert info["class_names"] == ["not_melanoma", "melanoma"] and info["resolution"] == 32
    assert info["meta"] == {"kimg": 12, "run": "x"} and len(info["weights_sha256"]) == 64
    assert weights.read_bytes()[:1] != b"\x80"  # not a pickle

    z, c = torch.randn(2, G.z_dim), torch.eye(2)
    G2 = load_generator(tmp_path / "net.safetensors")
    G2_raw = load_generator(tmp_path / "net", ema=False)
    D2 = load_discriminator(tmp_path / "net.json")
    with torch.no_grad():
        torch.testing.assert_close(
            G2(z, c, noise_mode="const"), G_ema(z, c, noise_mode="const"), atol=0, rtol=0
        )
        torch.testing.assert_close(
            G2_raw(z, c, noise_mode="const"), G(z, c, noise_mode="const"), atol=0, rtol=0
        )
        img = G(z, c, noise_mode="const")
        torch.testing.assert_close(D2(img, c), D(img, c), atol=0, rtol=0)
    assert not G2.training and not any(p.requires_grad for p in G2.parameters())
    assert G2.network_info["network_key"] == "G_ema"
    assert set(load_networks(tmp_path / "net")) >= {"G", "D", "G_ema", "info"}


def test_generator_only_and_class_names(tmp_path, tiny_nets):
    G, _, _ = tiny_nets
    save_network(tmp_path / "g", G=G, meta={"class_names": ["benign", "malignant"]})
    G2 = load_generator(tmp_path / "g")
    assert G2.network_info["network_key"] == "G" and G2.network_info["class_names"] == ["benign", "malignant"]
    with pytest.raises(ValueError, match="no discriminator"):
        load_discriminator(tmp_path / "g")


def test_errors_name_the_file(tmp_path, tiny_nets):
    G, _, _ = tiny_nets
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_generator(tmp_path / "missing")
    save_network(tmp_path / "g", G=G)
    info = json.loads((tmp_path / "g.json").read_text())
    info["networks"]["G"]["kwargs"]["synthesis_kwargs"]["channel_max"] = 32  # weights no longer fit
    (tmp_path / "g.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="g.safetensors"):
        load_generator(tmp_path / "g")
    info["networks"]["G"]["class"] = "os.system"
    (tmp_path / "g.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match="unknown class"):
        load_generator(tmp_path / "g")
    with pytest.raises(ValueError, match="at least one"):
        save_network(tmp_path / "none")
