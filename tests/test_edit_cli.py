"""``dermsynth edit`` commands end to end (the generator loader swapped for stand-ins)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dermsynth.cli.main import app
from dermsynth.edit import load_directions
from dermsynth.edit import network as net

runner = CliRunner()


def _run(*args):
    res = runner.invoke(app, ["edit", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture
def toy(monkeypatch):
    from test_edit_standin import ToyFrameG

    G = ToyFrameG(w_dim=8)
    monkeypatch.setattr(net, "load_generator", lambda path, device="cpu": G)
    monkeypatch.setattr(net, "load_discriminator", lambda path, device="cpu": None)
    return G


def test_cli_sefa_on_fixture(tmp_path, sg2_fixtures):
    out = tmp_path / "sefa.npz"
    _run(
        "directions",
        "--network",
        sg2_fixtures / "sg2ada_c2_res32.weights.safetensors",
        "--method",
        "sefa",
        "--layers",
        "0-5",
        "--k",
        "8",
        "--out",
        out,
        "--device",
        "cpu",
    )
    d = load_directions(out)
    assert d.method == "sefa" and d.directions.shape == (8, 512) and d.layers.tolist() == [0, 1, 2, 3, 4, 5]
    assert len(d.meta["network_sha256"]) == 64


def test_cli_svm_apply_evaluate_on_toy(tmp_path, toy):
    svm = tmp_path / "svm.npz"
    _run(
        "directions",
        "--network",
        "toy",
        "--method",
        "svm",
        "--num",
        "300",
        "--fraction",
        "0.3",
        "--score",
        "dark_corner",
        "--out",
        svm,
        "--device",
        "cpu",
    )
    d = load_directions(svm)
    assert d.method == "svm" and d.meta["accuracy"] > 0.9 and float(d.directions[0] @ toy.u.numpy()) > 0.9

    strip = tmp_path / "strip.png"
    _run(
        "apply",
        "--network",
        "toy",
        "--directions",
        svm,
        "--alphas",
        "-2:2:5",
        "--seeds",
        "0-3",
        "--strip",
        strip,
        "--device",
        "cpu",
    )
    from dermsynth.core.io import read_rgb

    assert read_rgb(strip).shape == (4 * 34 + 2, 5 * 34 + 2, 3)

    clean = tmp_path / "clean"
    _run(
        "apply",
        "--network",
        "toy",
        "--directions",
        svm,
        "--seeds",
        "0-29",
        "--out",
        clean,
        "--until-clean",
        "dark_corner",
        "--device",
        "cpu",
    )
    df = pd.read_csv(clean / "manifest.csv")
    assert len(df) == 30 and set(df["status"]) <= {"already_clean", "cleaned"} and (df["alpha"] <= 0).all()

    ev = tmp_path / "eval"
    _run(
        "evaluate",
        "--network",
        "toy",
        "--directions",
        svm,
        "--num",
        "24",
        "--pool",
        "200",
        "--alphas",
        "-3,3",
        "--detector",
        "dark_corner",
        "--out",
        ev,
        "--device",
        "cpu",
    )
    t = pd.read_csv(ev / "table.csv")
    assert len(t) == 2 and t.loc[t["best"], "alpha"].tolist() == [-3.0]
    summary = json.loads((ev / "table.json").read_text())
    assert summary["best"]["alpha"] == -3.0 and "LPIPS" in summary["perceptual_distance"]
    assert summary["settings"]["pool"] == 200 and 24 <= summary["seeds_searched"] <= 224
    assert (t["n_present"] >= 12).all()  # half of the 24, found in the pool when the first 24 lack them
    if summary["seeds_searched"] > 24:
        assert (t["n_present"] == 12).all() and (t["n"] > 24).all()
    assert (ev / "figure.png").exists() and (ev / "best_strip.png").exists()


def test_cli_pca_and_layer_edit_on_tiny(tmp_path, monkeypatch):
    from test_edit_standin import make_generator

    G = make_generator(2, 32)
    monkeypatch.setattr(net, "load_generator", lambda path, device="cpu": G)
    out = tmp_path / "pca.npz"
    _run(
        "directions",
        "--network",
        "tiny",
        "--method",
        "pca",
        "--num",
        "500",
        "--class",
        "melanoma",
        "--k",
        "4",
        "--out",
        out,
        "--device",
        "cpu",
    )
    d = load_directions(out)
    assert d.directions.shape == (4, G.w_dim) and d.meta["class"] == 1
    ds = tmp_path / "ds"
    _run(
        "apply",
        "--network",
        "tiny",
        "--directions",
        out,
        "--index",
        "1",
        "--alphas",
        "0,2",
        "--seeds",
        "0-2",
        "--class",
        "1",
        "--layers",
        "0-2",
        "--out",
        ds,
        "--device",
        "cpu",
    )
    m = pd.read_csv(ds / "manifest.csv")
    assert len(m) == 6 and (m["layers"] == "0,1,2").all() and (m["class_name"] == "melanoma").all()


def test_cli_errors_are_clean(tmp_path, toy):
    res = runner.invoke(
        app,
        [
            "edit",
            "apply",
            "--network",
            "toy",
            "--directions",
            tmp_path / "missing.npz",
            "--strip",
            tmp_path / "s.png",
        ],
    )
    assert res.exit_code == 2 and "missing.npz" in res.output
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    res = runner.invoke(app, ["edit", "evaluate", "--network", "toy", "--directions", bad])
    assert res.exit_code == 2 and "bad.npz" in res.output
    res = runner.invoke(app, ["edit", "directions", "--network", "toy", "--method", "nope"])
    assert res.exit_code == 2 and "'nope'" in res.output and "sefa" in res.output
    np.savez(tmp_path / "d.npz", directions=np.eye(8)[:2], values=[1.0, 0.5], layers=[])
    res = runner.invoke(
        app,
        [
            "edit",
            "apply",
            "--network",
            "toy",
            "--directions",
            tmp_path / "d.npz",
            "--index",
            "5",
            "--strip",
            tmp_path / "s.png",
        ],
    )
    assert res.exit_code == 2 and "out of range" in res.output


#: Every option of each command with a value no other option has, and the config field it must land in.
_MAPPING = {
    "directions": (["--network", "net.st", "--method", "svm", "--out", "d.npz", "--layers", "0-3", "--k", "5",
                    "--num", "77", "--class", "melanoma", "--score", "bias:ruler", "--fraction", "0.125",
                    "--trunc", "0.75", "--orthogonal-to", "class", "--orthogonal-to", "o.npz:2",
                    "--batch-size", "9", "--device", "cpu"],
                   dict(network="net.st", out="d.npz", method="svm", layers="0-3", k=5, num=77,
                        class_name="melanoma", score="bias:ruler", fraction=0.125, trunc=0.75,
                        orthogonal_to=("class", "o.npz:2"), batch_size=9, device="cpu")),
    "apply": (["--network", "net.st", "--directions", "d.npz", "--index", "3", "--alphas", "-2:2:5",
               "--seeds", "4-6", "--class", "1", "--layers", "2-4", "--trunc", "0.5", "--noise-mode", "random",
               "--strip", "s.png", "--out", "ds", "--until-clean", "dark_corner", "--alpha-step", "0.25",
               "--max-alpha", "6.5", "--sign", "-", "--batch-size", "7", "--device", "cpu"],
              dict(network="net.st", directions="d.npz", index=3, alphas="-2:2:5", seeds="4-6", class_name="1",
                   layers="2-4", trunc=0.5, noise_mode="random", strip="s.png", out="ds",
                   until_clean="dark_corner", alpha_step=0.25, max_alpha=6.5, sign="-", batch_size=7,
                   device="cpu")),
    "evaluate": (["--network", "net.st", "--directions", "d.npz", "--indices", "1-2", "--alphas", "-1,1",
                  "--num", "33", "--seed-offset", "11", "--pool", "44", "--class", "0", "--layers", "0-1",
                  "--trunc", "0.875", "--detector", "ruler", "--class-scorer", "none", "--min-lesion-iou",
                  "0.375", "--min-class-kept", "0.625", "--out", "ev", "--lpips", "off", "--batch-size", "5",
                  "--device", "cpu"],
                 dict(network="net.st", directions="d.npz", out="ev", indices="1-2", alphas="-1,1", num=33,
                      seed_offset=11, pool=44, class_name="0", layers="0-1", trunc=0.875, detector="ruler",
                      class_scorer="none", min_lesion_iou=0.375, min_class_kept=0.625, lpips="off",
                      batch_size=5, device="cpu")),
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(_MAPPING))
def test_every_option_lands_in_its_config_field(command, monkeypatch):
    """Options -> config by keyword: each option's value reaches the field of its name (a reordered
    dataclass or a swapped positional argument fails here), and every field is set by some option."""
    import dataclasses

    import dermsynth.cli.edit as cli

    seen = []

    class Stop(Exception):
        pass

    def capture(job, cfg, description):
        seen.append(cfg)
        raise Stop

    monkeypatch.setattr(cli, "_run", capture)
    args, want = _MAPPING[command]
    res = runner.invoke(app, ["edit", command, *args])
    assert isinstance(res.exception, Stop), res.output
    (cfg,) = seen
    assert dataclasses.asdict(cfg) == want
    defaults = {f.name: f.default for f in dataclasses.fields(cfg)}
    assert all(want[k] != v for k, v in defaults.items()), "each option given a non-default value"
