"""Issue 25.3: truth by lookup. Synthetic stimuli from seeds 0..N of a public generator go through a
deterministic chain: anyone with the generator regenerates seeds 0..N and matches every synthetic
stimulus, and so its label (the issue's script matched 200 of 200). Now the build draws secret seeds,
keeps them only in stimuli.csv, refuses public seeds unless told, and says plainly when the real images
are public (a reader could look them up)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dermsynth.core.io import read_rgb
from dermsynth.survey.build import BuildOptions, build_study, build_study_from_generator, public_real_reason
from dermsynth.survey.encode import process_stimulus
from survey_helpers import make_dataset, tiny_generator

SIZE, N = 32, 16
OPTS = BuildOptions(n=N, size=SIZE, allow_small_stimuli=True, examples_per_class=0, pixel_leaks="warn")


def _candidates(net, seeds: range) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """What the attacker computes: every public seed of both classes through the study's chain."""
    from dermsynth.gan import generate_images, load_generator

    G = load_generator(net)
    imgs, keys = [], []
    for label, name in enumerate(("not_melanoma", "melanoma")):
        for _, batch, _ in generate_images(G, list(seeds), label, batch_size=64):
            imgs += [process_stimulus(im, SIZE) for im in batch]
        keys += [(s, name) for s in seeds]
    return np.stack(imgs).astype(np.float32), keys


def _attack(study, cands: np.ndarray, keys) -> dict[str, tuple[int, str, float]]:
    """Nearest regenerated candidate of every stimulus: image id -> (seed, label, mean abs distance)."""
    out = {}
    for p in sorted((study / "images").glob("*.png")):
        d = np.abs(cands - read_rgb(p).astype(np.float32)).mean(axis=(1, 2, 3))
        k = int(d.argmin())
        out[p.stem] = (*keys[k], float(d[k]))
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from dermsynth.gan import load_generator
    from dermsynth.gan.generate import generate_dataset

    tmp = tmp_path_factory.mktemp("lookup")
    net = tiny_generator(tmp / "gan", 2 * SIZE)  # public, like the shipped 64 px generator
    public = tmp / "public"  # the old way: `gan generate --seeds 0-11 --class all`
    generate_dataset(load_generator(net), public, list(range(12)), [0, 1])
    real = make_dataset(tmp / "real", "real", N // 4 + 2, seed=1, side=2 * SIZE)
    return tmp, net, public, real, _candidates(net, range(0, 60))


def test_public_seeds_are_matched_so_they_are_refused(setup, tmp_path):
    _, net, public, real, (cands, keys) = setup
    with pytest.raises(ValueError, match=r"seeds 0\.\.11 .* not drawn in secret.*--generator"):
        build_study(real, public, tmp_path / "refused", OPTS)
    old = build_study(
        real, public, tmp_path / "old", BuildOptions(**{**OPTS.__dict__, "public_synthetic_seeds": True})
    )
    assert any("public seeds" in w for w in old.warnings)
    stim = pd.read_csv(old.study_dir / "stimuli.csv").set_index("image_id")
    found = _attack(old.study_dir, cands, keys)
    syn = stim[stim.source == "synthetic"]
    # the attack of the issue: every synthetic stimulus found, with its seed and so its label
    assert all(found[i][2] < 0.5 for i in syn.index)
    assert [(found[i][0], found[i][1]) for i in syn.index] == list(zip(syn.seed, syn.label, strict=True))


def test_secret_seeds_defeat_the_lookup_and_stay_with_the_truth(setup, tmp_path):
    _, net, public, real, (cands, keys) = setup
    res = build_study_from_generator(real, net, tmp_path / "new", OPTS)
    study = res.study_dir
    meta = json.loads((study / "study.json").read_text())
    assert meta["synthetic_seeds"] == "secret" and meta["synthetic_pool"]["network_sha256"]
    stim = pd.read_csv(study / "stimuli.csv").set_index("image_id")
    syn = stim[stim.source == "synthetic"]
    found = _attack(study, cands, keys)
    nearest = np.array([found[i][2] for i in syn.index])
    assert nearest.min() > 2.0  # no synthetic stimulus is any public seed's image
    assert (syn.seed >= 60).all() and syn.seed.nunique() == len(syn)
    # the truth file alone regenerates every synthetic stimulus (the seeds are kept, and right) ...
    from dermsynth.gan import generate_images, load_generator

    G = load_generator(net)
    for image_id, row in syn.iterrows():
        label = ["not_melanoma", "melanoma"].index(row.label)
        (_, img, _), *_ = generate_images(G, [int(row.seed)], label)
        again = process_stimulus(img[0], SIZE).astype(np.float32)
        assert np.abs(again - read_rgb(study / "images" / f"{image_id}.png")).mean() < 0.5
    # ... and nothing else holds them: not study.json, not a file name, no pool left behind
    text = (study / "study.json").read_text()
    assert not any(str(int(s)) in text for s in syn.seed)
    assert not (tmp_path / ".new.synthetic").exists()
    served = {p.name for p in (study / "images").iterdir()}
    assert not any(str(int(s)) in name for s in syn.seed for name in served)


def test_public_real_images_are_named_plainly(setup, tmp_path):
    from dermsynth.cli.survey import app as cli
    from dermsynth.core.manifest import read_manifest
    from dermsynth.data.sample import sample_dir

    tmp, net, public, real, _ = setup
    isic = tmp_path / "isic"
    make_dataset(isic, "real", N // 4 + 2, seed=3, side=2 * SIZE)
    man = pd.read_csv(isic / "manifest.csv")
    man["image_id"] = [f"ISIC_{i:07d}" for i in range(len(man))]
    man.to_csv(isic / "manifest.csv", index=False)
    assert "ISIC Archive ids" in public_real_reason(isic, read_manifest(isic))
    assert public_real_reason(real, read_manifest(real)) is None
    own = read_manifest(real)
    assert public_real_reason(real, own.assign(license="ACCESS restricted (hospital)")) is None
    assert "openly licensed" in public_real_reason(real, own.assign(license="CC BY-NC 4.0"))
    labels = pd.read_csv(sample_dir("isic2017") / "labels.csv", dtype=str)
    assert public_real_reason(sample_dir("isic2017"), labels)  # the embedded sample is public
    r = CliRunner().invoke(
        cli,
        ["build", "--real", str(isic), "--generator", str(net), "--out", str(tmp_path / "s"), "--n", str(N),
         "--size", str(SIZE), "--allow-small-stimuli", "--examples-per-class", "0", "--pixel-leaks", "warn"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "the real images are public" in out and "could look a stimulus up" in out
    assert json.loads((tmp_path / "s" / "study.json").read_text())["warnings"]
