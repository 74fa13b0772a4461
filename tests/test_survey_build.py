"""Study building and the leak check: balance, seeding, exclusions, outliers, identical encoding,
and a leak check that passes clean studies and catches leaky ones."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dermsynth.survey.build import BuildOptions, build_study
from dermsynth.survey.encode import png_chunks
from dermsynth.survey.leakcheck import leakcheck
from dermsynth.survey.study import load_study
from survey_helpers import make_dataset, make_study


def test_balanced_identical_and_clean(tmp_path):
    study = make_study(tmp_path, n=24, examples_per_class=2, exclude=("ruler",))
    stim = pd.read_csv(study / "stimuli.csv", dtype=str)
    assert len(stim) == 24 and stim["image_id"].is_unique
    assert stim.groupby(["source", "label"]).size().tolist() == [6, 6, 6, 6]
    assert list(stim.columns[:4]) == ["image_id", "source", "label", "origin"]
    assert stim["image_id"].tolist() == sorted(stim["image_id"])  # row order says nothing
    files = sorted((study / "images").glob("*.png")) + sorted((study / "examples").glob("*.png"))
    assert len(files) == 24 + 4
    data = [f.read_bytes() for f in files]
    assert len({len(d) for d in data}) == 1  # identical byte counts
    assert all(png_chunks(d) == [b"IHDR", b"IDAT", b"IEND"] for d in data)
    assert len({os.stat(f).st_mtime for f in files}) == 1
    # rulers (every 5th source image) excluded; examples are real and not among the stimuli
    assert not any(o.endswith(("_004", "_009")) for o in stim["origin"])
    s = load_study(study)
    assert {e for e, _ in s.examples}.isdisjoint(s.image_ids)
    assert sorted(lbl for _, lbl in s.examples) == ["melanoma", "melanoma", "not_melanoma", "not_melanoma"]
    report = leakcheck(study)
    assert report["passed"] and all(report["checks"].values()) and report["p_value"] >= 0.001


def test_seeded(tmp_path):
    real = make_dataset(tmp_path / "real", "real", 8, seed=1)
    syn = make_dataset(tmp_path / "syn", "synthetic", 8, seed=2)
    a = build_study(real, syn, tmp_path / "a", BuildOptions(n=12, seed=3, size=16)).study_dir
    b = build_study(real, syn, tmp_path / "b", BuildOptions(n=12, seed=3, size=16)).study_dir
    c = build_study(real, syn, tmp_path / "c", BuildOptions(n=12, seed=4, size=16)).study_dir
    sa, sb, sc = (pd.read_csv(d / "stimuli.csv") for d in (a, b, c))
    pd.testing.assert_frame_equal(sa, sb)
    assert [
        (a / "images" / f"{i}.png").read_bytes() == (b / "images" / f"{i}.png").read_bytes()
        for i in sa.image_id
    ] == [True] * 12
    assert set(sa.image_id) != set(sc.image_id)


def test_bad_options_and_existing_output(tmp_path):
    real = make_dataset(tmp_path / "real", "real", 4, seed=1)
    syn = make_dataset(tmp_path / "syn", "synthetic", 4, seed=2)
    with pytest.raises(ValueError, match="multiple of 4"):
        build_study(real, syn, tmp_path / "x", BuildOptions(n=10, size=16))
    with pytest.raises(ValueError, match="need 6 usable"):
        build_study(real, syn, tmp_path / "x", BuildOptions(n=24, size=16))
    with pytest.raises(ValueError, match="no such column"):
        build_study(real, syn, tmp_path / "x", BuildOptions(n=8, size=16, exclude=("ink",)))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "study.db").write_text("precious")
    with pytest.raises(FileExistsError, match="not empty"):
        build_study(real, syn, tmp_path / "full", BuildOptions(n=8, size=16))
    assert not (tmp_path / "x").exists()


def test_unreadable_image_skipped(tmp_path):
    real = make_dataset(tmp_path / "real", "real", 6, seed=1)
    syn = make_dataset(tmp_path / "syn", "synthetic", 6, seed=2)
    for f in (syn / "images").glob("syn_0_00[0-2].png"):
        f.write_bytes(b"not an image")
    res = build_study(real, syn, tmp_path / "s", BuildOptions(n=8, size=16))
    assert res.skipped and all("not a readable image" in s for s in res.skipped)
    stim = pd.read_csv(res.study_dir / "stimuli.csv")
    assert not any(o in ("syn/syn_0_000", "syn/syn_0_001", "syn/syn_0_002") for o in stim.origin)


def test_outliers_from_embeddings(tmp_path):
    real = make_dataset(tmp_path / "real", "real", 10, seed=1)
    syn = make_dataset(tmp_path / "syn", "synthetic", 10, seed=2)
    man = pd.read_csv(syn / "manifest.csv")
    g = np.random.default_rng(0)
    emb = pd.DataFrame(g.normal(size=(len(man), 4)), columns=[f"e{i}" for i in range(4)])
    emb.insert(0, "image_id", man["image_id"])
    far = ["syn_0_007", "syn_1_003"]
    emb.loc[emb.image_id.isin(far), "e0"] += 50.0  # far from their class centroids
    emb.to_csv(tmp_path / "emb.csv", index=False)
    opts = BuildOptions(n=16, size=16, outlier_frac=0.25, seed=5)
    res = build_study(real, syn, tmp_path / "s", opts, embeddings=tmp_path / "emb.csv")
    stim = pd.read_csv(res.study_dir / "stimuli.csv")
    out = stim[stim.outlier == 1]
    assert sorted(out.origin) == sorted(f"syn/{i}" for i in far)  # 0.25 * 4 per class = 1 per class
    assert (stim[stim.source == "real"].outlier == 0).all()


def test_leakcheck_catches_leaks(tmp_path):
    from PIL import Image, PngImagePlugin

    from dermsynth.cli.survey import app

    study = make_study(tmp_path, n=40)
    runner = CliRunner()
    assert runner.invoke(app, ["leakcheck", str(study)]).exit_code == 0
    stim = pd.read_csv(study / "stimuli.csv", dtype=str)
    # 1) ids that encode the source: the file-level classifier finds it (hard checks all pass)
    leaky = tmp_path / "leaky_ids"
    (leaky / "images").mkdir(parents=True)
    rows = []
    for k, r in enumerate(stim.itertuples()):
        new = ("f" if r.source == "synthetic" else "0") + f"{k:015x}"
        os.link(study / "images" / f"{r.image_id}.png", leaky / "images" / f"{new}.png")
        rows.append({**r._asdict(), "image_id": new})
    pd.DataFrame(rows).drop(columns="Index").to_csv(leaky / "stimuli.csv", index=False)
    rep = leakcheck(leaky)
    assert not rep["passed"] and rep["accuracy"] > 0.9 and all(rep["checks"].values())
    # 2) a text chunk on synthetic files: caught by the hard checks
    syn = stim[stim.source == "synthetic"].image_id
    for i in syn:
        p = study / "images" / f"{i}.png"
        meta = PngImagePlugin.PngInfo()
        meta.add_text("Software", "gan")
        Image.open(p).save(p, pnginfo=meta, compress_level=0)
    rep = leakcheck(study)
    assert not rep["passed"] and not rep["checks"]["no_metadata_chunks"]
    res = runner.invoke(app, ["leakcheck", str(study)])
    assert res.exit_code == 1


def test_cli_build_invite_export(tmp_path):
    from dermsynth.cli.survey import app

    real = make_dataset(tmp_path / "real", "real", 6, seed=1)
    syn = make_dataset(tmp_path / "syn", "synthetic", 6, seed=2)
    runner = CliRunner()
    out = tmp_path / "study"
    args = [
        "build",
        "--real",
        str(real),
        "--synthetic",
        str(syn),
        "--out",
        str(out),
        "--n",
        "8",
        "--size",
        "16",
    ]
    res = runner.invoke(app, [*args, "--exclude", "ruler", "--seed", "7"])
    assert res.exit_code == 0, res.output
    assert (out / "leakcheck.json").exists() and len(list((out / "images").glob("*.png"))) == 8
    res = runner.invoke(app, args)  # never overwrites a study
    assert res.exit_code == 2 and "not empty" in res.output
    res = runner.invoke(app, ["invite", str(out), "--n", "3", "--base-url", "https://survey.example.org"])
    assert res.exit_code == 0
    links = [ln.split("\t")[1] for ln in res.output.strip().splitlines()]
    assert len(set(links)) == 3 and all(ln.startswith("https://survey.example.org/r/") for ln in links)
    res = runner.invoke(app, ["export", str(out), "--out", str(tmp_path / "exp")])
    assert res.exit_code == 0, res.output
    assert (
        (tmp_path / "exp" / "responses.csv").read_text().startswith("study_id,reader_id,background,image_id")
    )
    assert (tmp_path / "exp" / "stimuli.csv").read_text() == (out / "stimuli.csv").read_text()


@pytest.mark.realdata
def test_real_isic_images_pass_the_leak_check(shared_data, tmp_path):
    """ISIC 2017 JPEGs split into two halves labelled real/synthetic: re-encoding leaves nothing but pixels."""
    src = shared_data / "isic2017-256"
    labels = pd.read_csv(src / "labels.csv", dtype={"image_id": str})
    files = {p.stem: p for p in (src / "images").iterdir()}
    labels = labels[labels.image_id.isin(files)].sample(n=200, random_state=0)
    dirs = []
    for name, part in (("real", labels.iloc[:100]), ("fake", labels.iloc[100:])):
        d = tmp_path / name
        (d / "images").mkdir(parents=True)
        for i in part.image_id:
            os.symlink(files[i], d / "images" / files[i].name)
        man = pd.DataFrame(
            {
                "image_id": part.image_id,
                "file": [f"images/{files[i].name}" for i in part.image_id],
                "label": part.melanoma,
                "ruler": part.ruler,
            }
        )
        man.to_csv(d / "manifest.csv", index=False)
        dirs.append(d)
    res = build_study(
        dirs[0],
        dirs[1],
        tmp_path / "s",
        BuildOptions(n=24, size=128, exclude=("ruler",), examples_per_class=1),
    )
    assert res.leak["passed"] and all(res.leak["checks"].values())
