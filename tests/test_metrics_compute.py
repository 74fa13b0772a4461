"""compute_metrics and the CLI end to end on tiny manifest datasets; cache; memorisation."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from dermsynth.core.io import write_png
from dermsynth.core.manifest import write_manifest
from dermsynth.metrics import compute_metrics, register_space
from dermsynth.metrics.images import open_image_set

# A test-only feature space: the EfficientNet-Lite0 architecture, random-init (plumbing, offline, fast);
# metric names in it read e.g. fid30_randlite.
register_space("randlite", "random-init EfficientNet-Lite0 (tests only)", lambda o: "effnet-lite:random")
KW = dict(feature_size=32, batch_size=16, kid_subsets=10)


def lesion(seed: int, label: int, size: int = 32) -> np.ndarray:
    """A procedural 'lesion': a dark blob on skin; melanoma (label 1) darker and more irregular."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    cx, cy, rad = r.uniform(0.35, 0.65, 2).tolist() + [r.uniform(0.15, 0.3)]
    wob = 1 + (0.3 * label + 0.05) * np.sin(np.arctan2(yy - cy, xx - cx) * r.integers(3, 7))
    inside = ((xx - cx) ** 2 + (yy - cy) ** 2) < (rad * wob) ** 2
    skin = np.array([220, 170, 140]) + r.normal(0, 8, 3)
    spot = np.array([120, 70, 50]) * (0.6 if label else 1.0) + r.normal(0, 10, 3)
    img = np.where(inside[..., None], spot, skin) + r.normal(0, 6, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_dataset(path, seeds, labels, split=None, images=None):
    """DIR/images/*.png + manifest.csv (image_id, file, label, class_name, split)."""
    rows = []
    for k, (s, lab) in enumerate(zip(seeds, labels, strict=True)):
        f = f"images/{k:06d}.png"
        write_png(path / f, images[k] if images is not None else lesion(s, lab))
        rows.append(
            {
                "image_id": f"img{k}",
                "file": f,
                "label": lab,
                "class_name": ["not_melanoma", "melanoma"][lab],
                "split": split[k] if split else "train",
            }
        )
    write_manifest(pd.DataFrame(rows), path)
    return path


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    p = tmp_path_factory.mktemp("real")
    n = 60
    split = ["train"] * 40 + ["val"] * 20
    return make_dataset(p, range(n), [i % 2 for i in range(n)], split)


@pytest.fixture(scope="module")
def fake_dir(tmp_path_factory):
    p = tmp_path_factory.mktemp("fake")
    return make_dataset(p, range(1000, 1030), [i % 2 for i in range(30)])


def test_fid_kid_pr_per_class_and_self_zero(real_dir, fake_dir, tmp_path):
    names = "fid30_randlite,kid30_randlite,pr303_randlite"
    res = compute_metrics(real_dir, fake_dir, metrics=names, cache_dir=tmp_path, **KW)
    r = res["results"]
    assert set(r) == {
        "fid30_randlite",
        "kid30_randlite",
        "kid30_randlite_std",
        "pr303_randlite_precision",
        "pr303_randlite_recall",
    }
    assert set(res["per_class"]) == {"not_melanoma", "melanoma"}
    assert res["details"]["fid30_randlite"]["per_class"]["melanoma"] == {"num_real": 30, "num_fake": 15}
    # the output says which weights were used, per metric
    assert res["details"]["fid30_randlite"]["features"]["weights"] == "random-init"
    assert res["details"]["fid30_randlite"]["num_fake"] == 30
    names = "fid60_randlite,kid60_randlite,pr603_randlite"
    same = compute_metrics(real_dir, real_dir, metrics=names, cache_dir=tmp_path, **KW)["results"]
    assert abs(same["fid60_randlite"]) < 1e-6
    assert same["pr603_randlite_precision"] == 1.0 and same["pr603_randlite_recall"] == 1.0
    assert r["fid30_randlite"] > 100 * abs(same["fid60_randlite"]) + 1e-6


def test_folder_draws_the_named_count_and_refuses_more(real_dir, fake_dir, tmp_path):
    res = compute_metrics(real_dir, fake_dir, metrics="fid20_randlite", cache_dir=tmp_path, **KW)
    assert res["details"]["fid20_randlite"]["num_fake"] == 20 and res["fake"]["num_files"] == 30
    again = compute_metrics(real_dir, fake_dir, metrics="fid20_randlite", cache_dir=tmp_path, **KW)
    assert again["results"] == res["results"]  # the draw is a function of the seed
    with pytest.raises(ValueError, match="30 synthetic images, but the metric asks for 31"):
        compute_metrics(real_dir, fake_dir, metrics="fid31_randlite", cache_dir=tmp_path, **KW)


def test_cache_hit_skips_extraction_and_invalidates_on_change(real_dir, fake_dir, tmp_path, monkeypatch):
    import dermsynth.metrics.features as F

    first = compute_metrics(real_dir, fake_dir, metrics="fid30_randlite", cache_dir=tmp_path, **KW)
    assert first["real"]["cache"] == "miss"
    calls = []
    orig = F.extract_image_set
    monkeypatch.setattr(F, "extract_image_set", lambda *a, **k: calls.append(1) or orig(*a, **k))
    second = compute_metrics(real_dir, fake_dir, metrics="fid30_randlite", cache_dir=tmp_path, **KW)
    assert second["real"]["cache"] == "hit" and not calls  # real side from the cache
    assert second["results"] == pytest.approx(first["results"], rel=1e-9)
    # the cache file holds the real statistics too
    from dermsynth.metrics.features import _load
    from dermsynth.metrics.frechet import feature_stats

    cached = _load(next(tmp_path.glob("real-*.npz")))
    mu, sigma = feature_stats(cached.features)
    np.testing.assert_allclose(cached.stats[0], mu)
    np.testing.assert_allclose(cached.stats[1], sigma)
    # a changed image (new size + mtime) changes the key
    copy = tmp_path / "real_copy"
    shutil.copytree(real_dir, copy)
    write_png(copy / "images/000000.png", lesion(999, 0))
    other = compute_metrics(copy, fake_dir, metrics="fid30_randlite", cache_dir=tmp_path, **KW)
    assert other["real"]["cache"] == "miss" and calls


def test_bad_image_is_skipped_not_fatal(real_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(real_dir, bad)
    (bad / "images/000003.png").write_bytes(b"not a png")
    res = compute_metrics(real_dir, bad, metrics="fid60_randlite", cache_dir=tmp_path, **KW)
    assert res["details"]["fid60_randlite"]["num_fake"] == 59
    assert any("000003.png" in s for s in res["fake"]["skipped"])


def test_plain_folder_without_manifest(real_dir, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    for i in range(12):
        write_png(plain / f"x{i}.png", lesion(500 + i, 0))
    s = open_image_set(plain)
    assert len(s) == 12 and not s.has_labels
    res = compute_metrics(real_dir, plain, metrics="fid12_randlite,kid12_randlite", cache_dir=tmp_path, **KW)
    assert np.isfinite(res["results"]["fid12_randlite"]) and res["per_class"] == {}


def test_memorisation_flags_planted_copies(real_dir, tmp_path):
    # 10 exact copies of training images among 10 novel ones
    imgs = [lesion(s, s % 2) for s in range(10)] + [lesion(2000 + s, s % 2) for s in range(10)]
    copies = make_dataset(tmp_path / "copies", range(20), [s % 2 for s in range(20)], images=imgs)
    res = compute_metrics(
        real_dir, copies, metrics="memo20_randlite", cache_dir=tmp_path, out_dir=tmp_path / "m1", **KW
    )
    memo = res["details"]["memo20_randlite"]["memorisation"]
    assert res["results"]["memo20_randlite_flag"] is True and memo["flag"]
    assert (
        memo["pixel"]["frac_below_p1"] >= 0.5
        and memo["pixel"]["tail_p1_pvalue"] < 1e-3
        and memo["holdout"].startswith("manifest split")
    )
    table = pd.read_csv(tmp_path / "m1" / "memorisation.csv")
    assert len(table) == 20
    top = table.sort_values("pixel_distance").head(10)
    assert (top["pixel_distance"] < 1e-4).all()
    assert set(top["fake"]) == {f"images/{k:06d}.png" for k in range(10)}
    assert (tmp_path / "m1" / "memorisation_grid.png").stat().st_size > 0
    assert json.loads((tmp_path / "m1" / "memorisation.json").read_text())["flag"] is True


def test_memorisation_quiet_on_novel_images(real_dir, fake_dir, tmp_path):
    res = compute_metrics(
        real_dir, fake_dir, metrics="memo30_randlite", cache_dir=tmp_path, out_dir=tmp_path / "m2", **KW
    )
    memo = res["details"]["memo30_randlite"]["memorisation"]
    assert memo["flag"] is False and res["results"]["memo30_randlite_flag"] is False
    assert memo["pixel"]["min_fake"] > 0


def test_cli_end_to_end(real_dir, fake_dir, tmp_path):
    from typer.testing import CliRunner

    from dermsynth.cli.main import app

    out = tmp_path / "m.json"
    r = CliRunner().invoke(
        app,
        [
            "metrics",
            "--real",
            str(real_dir),
            "--synthetic",
            str(fake_dir),
            "--metrics",
            "fid30_randlite,kid30_randlite,pr303_randlite",
            "--feature-size",
            "32",
            "--json",
            str(out),
            "--cache-dir",
            str(tmp_path / "c"),
            "--batch-size",
            "8",
        ],
    )
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert res["results"]["fid30_randlite"] > 0 and "melanoma" in res["per_class"]
    base = ["metrics", "--real", str(real_dir), "--synthetic", str(fake_dir), "--device", "cpu"]
    bad = CliRunner().invoke(
        app, [*base, "--metrics", "fid10_inception", "--inception-weights", str(tmp_path / "nope.pth")]
    )
    assert bad.exit_code == 2 and "pt_inception-2015-12-05-6726825d.pth" in bad.output
    bad = CliRunner().invoke(app, [*base, "--metrics", "fid10_randlite,ppl10_wend_randlite"])
    assert bad.exit_code == 2 and "PPL needs a generator" in bad.output
    bad = CliRunner().invoke(app, [*base, "--metrics", "fid"])  # generic names say no protocol
    assert bad.exit_code == 2 and "fid10k_effnetlite" in bad.output
    bad = CliRunner().invoke(app, [*base, "--metrics", "fid10_randlite", "--features", "effnet-lite"])
    assert bad.exit_code == 2 and "removed" in bad.output and "--features" in bad.output
    old = ["metrics", "--real", str(real_dir), "--fake", str(fake_dir), "--metrics", "fid30_randlite"]
    old += ["--feature-size", "32", "--cache-dir", str(tmp_path / "c"), "--device", "cpu"]
    r = CliRunner().invoke(app, old)  # the old spelling still reads, hidden, with a note
    assert r.exit_code == 0 and "use --synthetic" in r.output, r.output
    bad = CliRunner().invoke(app, [*old, "--synthetic", str(fake_dir)])
    assert bad.exit_code == 2 and "--synthetic only" in bad.output
    bad = CliRunner().invoke(app, [*base, "--metrics", "fid30_randlite", "--batch", "8"])
    assert bad.exit_code == 2  # one spelling: --batch-size
    help_text = CliRunner().invoke(app, ["metrics", "--help"]).output
    assert "--synthetic" in help_text and "--fake" not in help_text


def test_memorisation_does_not_flag_blurry_averages(tmp_path):
    """Samples shrunk towards the mean are near everything in pixel L2, but copy nothing: not flagged."""
    from dermsynth.metrics.features import FeatureSet
    from dermsynth.metrics.memorisation import memorisation

    rng = np.random.default_rng(0)
    mean, basis = rng.uniform(80, 170, 192), rng.normal(0, 12, (20, 192))

    def population(n, shrink=1.0, noise=10.0):
        x = mean + shrink * rng.normal(0, 1, (n, 20)) @ basis + rng.normal(0, noise, (n, 192))
        return np.clip(x, 0, 255).astype(np.uint8).reshape(n, 8, 8, 3)

    train, hold, fake = population(300), population(150), population(150, shrink=0.9, noise=8.0)

    def fs(imgs):
        feats = rng.normal(0, 1, (len(imgs), 16)).astype(np.float32)  # an uninformative feature space
        return FeatureSet(
            feats, np.zeros(len(imgs), int), [f"{i}.png" for i in range(len(imgs))], thumbs=imgs
        )

    res = memorisation(
        fs(fake), fs(train), fs(hold), tmp_path, lambda i: fake[i], lambda i: train[i], top_k=2
    )
    assert res["pixel"]["mannwhitney_pvalue"] < res["alpha"]  # the smoothed samples sit closer overall...
    assert not res["flag"], res["pixel"]  # ...but no more of them are near-copies than chance allows
    copies = np.concatenate([train[:40], fake[:110]])
    res = memorisation(
        fs(copies), fs(train), fs(hold), tmp_path / "c", lambda i: copies[i], lambda i: train[i], top_k=2
    )
    assert res["flag"] and res["pixel"]["tail_p1_pvalue"] < 1e-6  # 40 copies among 150 are caught
