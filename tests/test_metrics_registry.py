"""Metric names: what each resolves to, official names refuse without their weights, options are checked."""

from __future__ import annotations

import pytest
import torch

from dermsynth.metrics import MetricOptions, compute_metrics, list_metrics, resolve_metric, resolve_metrics
from dermsynth.metrics.registry import OFFICIAL, SPACES
from test_metrics_compute import make_dataset  # noqa: E402  (also registers the randlite space)


@pytest.mark.parametrize(
    "name, kind, num, space, k, official",
    [
        ("fid50k_full", "fid", 50_000, "inception", 3, True),
        ("kid50k_full", "kid", 50_000, "inception", 3, True),
        ("pr50k3_full", "pr", 50_000, "vgg16", 3, True),
        ("ppl2_wend", "ppl", 50_000, "lpips", 3, True),
        ("fid10k_effnetlite", "fid", 10_000, "effnetlite", 3, False),
        ("kid1k_inception", "kid", 1_000, "inception", 3, False),
        ("pr10k5_effnetlite2", "pr", 10_000, "effnetlite2", 5, False),
        ("pr5003_dermo", "pr", 500, "dermo", 3, False),
        ("memo500_effnetlite", "memo", 500, "effnetlite", 3, False),
        ("ppl10k_wend_lpips", "ppl", 10_000, "lpips", 3, False),
        ("ppl2k_wend_effnetlite", "ppl", 2_000, "effnetlite", 3, False),
        ("fid1k_dermo", "fid", 1_000, "dermo", 3, False),
        ("fid200_torchscript", "fid", 200, "torchscript", 3, False),
    ],
)
def test_names_resolve_to_what_they_say(name, kind, num, space, k, official):
    s = resolve_metric(name)
    assert (s.name, s.kind, s.num, s.space, s.official) == (name, kind, num, space, official)
    if kind == "pr":
        assert s.k == k


@pytest.mark.parametrize(
    "name, message",
    [
        ("fid", "Generic names were removed"),
        ("ppl", "Generic names were removed"),
        ("fid50k", "use fid50k_full"),
        ("fid10k_lpips", "unknown feature space 'lpips'"),
        ("fid10k_nosuch", "unknown feature space 'nosuch'"),
        ("fid1_effnetlite", "at least 2"),
        ("ppl10k_effnetlite", "unknown metric"),
        ("fid10k", "unknown metric"),
    ],
)
def test_bad_names_are_refused_with_the_scheme(name, message):
    with pytest.raises(ValueError, match=message):
        resolve_metric(name)


def test_resolve_metrics_orders_dedupes_and_allows_one_memo():
    specs = resolve_metrics("ppl2_wend, fid10k_effnetlite,fid10k_effnetlite,kid10k_effnetlite")
    assert [s.name for s in specs] == ["fid10k_effnetlite", "kid10k_effnetlite", "ppl2_wend"]
    with pytest.raises(ValueError, match="one memorisation"):
        resolve_metrics(["memo1k_effnetlite", "memo2k_effnetlite"])
    with pytest.raises(ValueError, match="no metric"):
        resolve_metrics(" , ")
    listed = list_metrics()
    assert set(OFFICIAL) <= set(listed) and all(resolve_metric(n) for n in listed)
    assert {"inception", "vgg16", "effnetlite", "dermo", "torchscript", "lpips"} <= set(SPACES)


def test_unknown_and_removed_options_are_named():
    with pytest.raises(ValueError, match="unknown metrics option 'batch'.*batch_size"):
        MetricOptions.from_kwargs(batch=3)
    with pytest.raises(ValueError, match="'features' was removed"):
        MetricOptions.from_kwargs(features="effnet-lite")
    with pytest.raises(ValueError, match="'num' was removed"):
        MetricOptions.from_kwargs(num=10)


@pytest.fixture()
def no_local_weights(tmp_path, monkeypatch):
    """No official weights anywhere this process could find them (env vars, torch.hub cache)."""
    monkeypatch.delenv("DERMSYNTH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("DERMSYNTH_VGG16_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    p = tmp_path_factory.mktemp("reg")
    real = make_dataset(p / "real", range(8), [i % 2 for i in range(8)])
    fake = make_dataset(p / "fake", range(100, 108), [i % 2 for i in range(8)])
    return real, fake


class ExplodingG(torch.nn.Module):
    """A generator that fails if used: refusals must come before any image is generated."""

    z_dim, c_dim, img_resolution = 4, 2, 32

    def mapping(self, *a, **k):
        raise AssertionError("generated before checking the weights")

    synthesis = mapping


@pytest.mark.parametrize(
    "name, missing",
    [
        ("fid50k_full", "pt_inception-2015-12-05-6726825d.pth"),
        ("kid50k_full", "pt_inception-2015-12-05-6726825d.pth"),
        ("pr50k3_full", "vgg16-397923af.pth"),
        ("ppl2_wend", "vgg16-397923af.pth"),
    ],
)
def test_official_names_refuse_without_weights_before_any_work(
    name, missing, dirs, no_local_weights, monkeypatch
):
    import dermsynth.metrics.generator as gen

    real, _ = dirs
    monkeypatch.setattr(gen, "load_network", lambda path: ExplodingG())
    with pytest.raises(FileNotFoundError) as e:
        compute_metrics(
            real, network="g.pt", metrics=["fid2_randlite", name], device="cpu", cache_dir=real / "c"
        )
    msg = str(e.value)
    assert missing in msg and "on a machine with internet" in msg  # the file, and how to provide it
    assert "--inception-weights" in msg or "--vgg16-weights" in msg


def test_official_names_refuse_non_official_settings(dirs):
    real, fake = dirs
    with pytest.raises(ValueError, match="official protocol.*truncation_psi"):
        compute_metrics(real, fake, metrics="fid50k_full", truncation_psi=0.7)
    with pytest.raises(ValueError, match="official protocol.*kid_subsets"):
        compute_metrics(real, fake, metrics="kid50k_full", kid_subsets=10)


def test_spaces_that_need_a_file_say_so(dirs, tmp_path):
    real, fake = dirs
    with pytest.raises(ValueError, match="--dermo"):
        compute_metrics(real, fake, metrics="fid8_dermo", device="cpu")
    with pytest.raises(FileNotFoundError, match="nope.safetensors: dermo feature-space checkpoint not found"):
        compute_metrics(real, fake, metrics="fid8_dermo", dermo=tmp_path / "nope.safetensors", device="cpu")
    with pytest.raises(ValueError, match="--torchscript"):
        compute_metrics(real, fake, metrics="fid8_torchscript", device="cpu")


def test_resolve_dermo_checkpoint(tmp_path):
    from dermsynth.metrics import resolve_dermo_checkpoint

    f = tmp_path / "model.safetensors"
    f.write_bytes(b"x")
    assert resolve_dermo_checkpoint(str(f)) == f
    with pytest.raises(FileNotFoundError, match="other.pt"):
        resolve_dermo_checkpoint(tmp_path / "other.pt")


def test_check_metrics_finds_missing_weights_without_loading(no_local_weights, tmp_path):
    from dermsynth.metrics import check_metrics

    assert [s.name for s in check_metrics(["fid10k_effnetlite", "fid2_randlite"])] == [
        "fid10k_effnetlite",
        "fid2_randlite",
    ]
    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05-6726825d.pth"):
        check_metrics("fid50k_full")
    with pytest.raises(FileNotFoundError, match="vgg16-397923af.pth"):
        check_metrics("ppl2_wend")
    with pytest.raises(ValueError, match="PPL needs a generator"):
        check_metrics("ppl10k_wend_effnetlite", has_generator=False)
    f = tmp_path / "vgg16-397923af.pth"
    f.write_bytes(b"not read: only found")
    opts = MetricOptions(vgg16_weights=str(f))
    assert check_metrics("pr50k3_full,ppl2_wend", opts=opts)[0].name == "pr50k3_full"
    with pytest.raises(ValueError, match="--dermo"):
        check_metrics("fid1k_dermo")
