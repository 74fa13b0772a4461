"""Tests for the shared foundations."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from dermsynth.core import config, io, manifest, seeding, stats
from dermsynth.core.ranges import parse_int_ranges


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.json"
    io.atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_png_roundtrip_is_lossless(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    io.write_png(tmp_path / "a.png", img)
    assert np.array_equal(io.read_rgb(tmp_path / "a.png"), img)


def test_read_rgb_names_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.png"):
        io.read_rgb(bad)


def test_seeds_are_functions_of_names():
    a = seeding.rng(1, "phantom", 5).random(3)
    b = seeding.rng(1, "phantom", 5).random(3)
    c = seeding.rng(1, "phantom", 6).random(3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_manifest_roundtrip_and_dataset_json(tmp_path):
    df = pd.DataFrame({"image_id": ["x", "y"], "file": ["images/x.png", "images/y.png"], "label": [0, 1]})
    manifest.write_manifest(df, tmp_path)
    back = manifest.read_manifest(tmp_path)
    assert list(back.columns[: len(manifest.MANIFEST_COLUMNS)]) == manifest.MANIFEST_COLUMNS
    manifest.write_dataset_json(back, tmp_path)
    assert json.loads((tmp_path / "dataset.json").read_text()) == {
        "labels": [["images/x.png", 0], ["images/y.png", 1]]
    }
    assert manifest.class_index("melanoma") == 1 and manifest.class_index("0") == 0
    with pytest.raises(ValueError, match="unknown class"):
        manifest.class_index("nevus")


def test_config_presets_and_unknown_keys(tmp_path):
    @dataclass(frozen=True)
    class Cfg:
        lr: float = 1.0
        n: int = 2

    presets = {"a": Cfg(), "b": Cfg(lr=0.5)}
    assert config.resolve(presets, "b", n=3) == Cfg(lr=0.5, n=3)
    with pytest.raises(ValueError, match="unknown option"):
        config.resolve(presets, "a", nope=1)
    with pytest.raises(ValueError, match="unknown preset"):
        config.resolve(presets, "zzz")
    config.save_config(Cfg(), tmp_path)
    assert config.from_dict(Cfg, config.load_config(tmp_path / "config.json")) == Cfg()


def test_stats_writer_means_and_partial_lines(tmp_path):
    w = stats.StatsWriter(tmp_path / "stats.jsonl")
    w.report("loss", 1.0)
    w.report("loss", [2.0, 3.0])
    row = w.flush(tick=0)
    assert row == {"tick": 0, "loss": 2.0}
    with open(tmp_path / "stats.jsonl", "a") as f:
        f.write('{"tick": 1, "lo')  # a writer killed mid-line
    assert stats.read_jsonl(tmp_path / "stats.jsonl") == [{"tick": 0, "loss": 2.0}]


def test_parse_int_ranges():
    assert parse_int_ranges("0-3,7,10-11") == [0, 1, 2, 3, 7, 10, 11]
    with pytest.raises(ValueError):
        parse_int_ranges("5-2")


@dataclass(frozen=True)
class _Job:
    size: int = 256  # a comment
    layers: tuple[int, ...] = ()
    names: tuple[str, ...] | None = None
    device: str = "auto"


@dataclass(frozen=True)
class _Required:
    network: str


def test_build_config_names_unknown_keys_and_coerces_tuples():
    job = config.build_config(_Job, {"size": 64, "layers": [0, 1], "names": "a, b"}, "edit.apply")
    assert job == _Job(64, (0, 1), ("a", "b"))
    assert config.build_config(_Job, {"names": None}, "x").names is None
    with pytest.raises(ValueError) as e:
        config.build_config(_Job, {"devcie": "cpu", "sizes": 3}, "edit.apply")
    msg = str(e.value)
    assert msg.startswith("edit.apply: unknown key(s) 'devcie' (did you mean 'device'?), 'sizes'")
    assert "valid keys: device, layers, names, size" in msg
    with pytest.raises(ValueError, match="edit.apply"):  # a missing required field is named too
        config.build_config(_Required, {}, "edit.apply")


def test_save_figure_is_atomic_and_closes(tmp_path):
    from dermsynth.core.figures import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    n_open = len(plt.get_fignums())
    p = save_figure(fig, tmp_path / "f.png", dpi=50)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(plt.get_fignums()) == n_open - 1
    assert [q.name for q in tmp_path.iterdir()] == ["f.png"]
    fig, _ = plt.subplots()

    def half_written(buf, **kw):
        buf.write(b"\x89PNG half")
        raise RuntimeError("killed while drawing")

    fig.savefig = half_written
    with pytest.raises(RuntimeError, match="killed"):
        save_figure(fig, tmp_path / "f.png")
    assert io.read_rgb(tmp_path / "f.png").shape[2] == 3  # the good figure is still there, whole


def _scipy_fd(a: np.ndarray, b: np.ndarray) -> float:
    """The reference: StyleGAN2-ADA's route, ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))."""
    import scipy.linalg

    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real))


@pytest.mark.parametrize("n1, n2, d", [(500, 400, 12), (300, 320, 60), (40, 30, 60)])
def test_frechet_distance_equals_scipy_sqrtm(n1, n2, d):
    """The one Frechet distance (core.frechet) against scipy's sqrtm, on full-rank and low-rank
    (fewer samples than features: fd_simple's case early in tiny runs) covariances."""
    from dermsynth.core.frechet import feature_stats, fid_from_features, frechet_distance

    r = np.random.default_rng(d + n1)
    a = r.standard_normal((n1, d)) @ r.standard_normal((d, d))
    b = r.standard_normal((n2, d)) * 1.3 + 0.2
    ref = _scipy_fd(a, b)
    assert fid_from_features(a, b) == pytest.approx(ref, rel=1e-6)
    assert frechet_distance(*feature_stats(a), *feature_stats(b)) == pytest.approx(ref, rel=1e-6)
    assert abs(fid_from_features(a, a)) < 1e-6 * ref


def test_metrics_fid_and_gan_fd_simple_share_the_core_frechet_distance():
    """One implementation: the metrics stage's names are core's, and fd_simple equals the scipy route."""
    import torch

    import dermsynth.core.frechet as core_fd
    import dermsynth.metrics.frechet as metrics_fd
    from dermsynth.gan.train.fd_simple import fd_simple, simple_features

    assert metrics_fd.frechet_distance is core_fd.frechet_distance
    assert metrics_fd.fid_from_features is core_fd.fid_from_features
    g = torch.Generator().manual_seed(0)
    real = simple_features(torch.rand(200, 3, 16, 16, generator=g) * 2 - 1)
    fake = simple_features(torch.rand(150, 3, 16, 16, generator=g) * 1.6 - 0.9)
    assert real.shape == (200, 63)  # 4x4 cell means, channel stds, dx/dy at two scales
    assert fd_simple(real, fake) == pytest.approx(
        _scipy_fd(real.double().numpy(), fake.double().numpy()), rel=1e-6
    )
