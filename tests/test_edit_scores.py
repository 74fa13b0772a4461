"""Scorers that plug other stages in: the classify stage's trained model, LPIPS from metrics."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dermsynth.edit import Directions, EvalSettings, evaluate_directions, get_scorer
from dermsynth.edit.measure import lpips_distance, outside_composite


@pytest.mark.slow
def test_classifier_scorer_reproduces_classify_predictions(tmp_path):
    from dermsynth.classify.experiment import experiment_from_dict
    from dermsynth.classify.run import run_experiment
    from dermsynth.classify.toydata import make_blob_dataset
    from dermsynth.core.io import read_rgb

    make_blob_dataset(tmp_path / "real", 120, 32, seed=0, separation=0.6)
    exp = {
        "name": "toy",
        "preset": "tiny",
        "seed": 0,
        "data": {"real": "real"},
        "sizes": {"real_per_class": 40, "synthetic_per_class": 0, "val_total": 20},
        "train": {"epochs": 1},
        "eval": {"n_bootstrap": 10},
        "setups": ["real"],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_experiment(experiment_from_dict(exp, tmp_path), tmp_path / "run", "cpu", log=lambda m: None)
    pred = pd.read_csv(tmp_path / "run" / "setups" / "real" / "predictions.csv")
    files = pd.read_csv(tmp_path / "real" / "manifest.csv").set_index("image_id")["file"]
    imgs = np.stack([read_rgb(tmp_path / "real" / files[i]) for i in pred["image_id"]])
    for spec in (f"classifier:{tmp_path / 'run'}", f"classifier:{tmp_path / 'run'}@real"):
        s = get_scorer(spec)(imgs)
        np.testing.assert_allclose(s.scores, pred["score"].to_numpy(), atol=1e-5)
        assert (s.present == (s.scores >= 0.5)).all()


def test_outside_composite_hides_changes_inside_the_mask():
    r = np.random.default_rng(0)
    a = r.integers(0, 255, (2, 32, 32, 3), dtype=np.uint8)
    m = np.zeros((2, 32, 32), bool)
    m[:, :6, :6] = True
    b = a.copy()
    b[:, :6, :6] = 0
    np.testing.assert_array_equal(outside_composite(a, b, m), a)
    c = b.copy()
    c[:, 20:, 20:] = 0
    assert not np.array_equal(outside_composite(a, c, m), a)


def test_lpips_outside_column_with_a_distance():
    from dermsynth.metrics.lpips import LPIPSVGG16
    from test_edit_standin import ToyFrameG

    G = ToyFrameG(w_dim=8)
    u, v = G.u.numpy(), G.v.numpy()
    other = np.linalg.qr(np.stack([u, v, np.eye(8)[0]]).T)[0][:, 2]
    dirs = Directions(np.stack([v, other]), [2, 1], [], "pca")
    dist = lpips_distance(LPIPSVGG16())  # random VGG: a distance all the same, zero for equal images
    t = evaluate_directions(
        G,
        dirs,
        [0, 1],
        get_scorer("dark_corner"),
        None,
        EvalSettings(num=8, alphas=(3.0,), batch_size=8),
        distance=dist,
    )
    by = t.set_index("index")
    assert by.loc[1, "lpips_outside"] == 0.0 and by.loc[0, "lpips_outside"] > 0
