"""Evaluation table: runs on a tiny random generator; picks the known-right direction on a toy one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dermsynth.edit import (
    Directions,
    EvalSettings,
    choose_best,
    evaluate_directions,
    evaluation_samples,
    get_scorer,
)
from dermsynth.edit.measure import masked_ssim, plot_table
from dermsynth.edit.table import TABLE_COLUMNS

COLUMNS = set(TABLE_COLUMNS)  # the contract of table.csv (edit/table.py)


def test_evaluation_on_tiny_random_generator(tmp_path):
    from test_edit_standin import make_generator

    G = make_generator(2, 32)
    r = np.random.default_rng(0)
    dirs = Directions(r.normal(size=(3, G.w_dim)) / np.sqrt(G.w_dim), [3.0, 2.0, 1.0], [], "pca")
    t = evaluate_directions(
        G,
        dirs,
        [0, 2],
        get_scorer("dark_corner"),
        get_scorer("lesion_area"),
        EvalSettings(num=8, alphas=(-2.0, 2.0), batch_size=8),
    )
    assert set(t.columns) == COLUMNS and len(t) == 4 and t["best"].sum() == 1
    assert t["ssim_outside"].between(-1, 1).all() and t["lesion_iou"].between(0, 1).all()
    plot_table(t, tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 1000


def test_evaluation_finds_the_frame_direction_on_toy_generator():
    from test_edit_standin import ToyFrameG

    G = ToyFrameG(w_dim=8)
    u, v = G.u.numpy(), G.v.numpy()
    other = np.linalg.qr(np.stack([u, v, np.eye(8)[0]]).T)[0][:, 2]  # orthogonal to both
    dirs = Directions(np.stack([v, -u, other]), [3, 2, 1], [], "sefa")
    t = evaluate_directions(
        G,
        dirs,
        [0, 1, 2],
        get_scorer("dark_corner"),
        None,
        EvalSettings(num=40, alphas=(3.0,), batch_size=20),
    )
    by = t.set_index("index")
    assert by.loc[1, "removed_frac"] == 1.0 and by.loc[1, "induced_frac"] == 0.0
    assert by.loc[2, "removed_frac"] == 0.0 and by.loc[2, "ssim_outside"] > 0.999  # no effect at all
    assert by.loc[0, "lesion_iou"] < by.loc[1, "lesion_iou"]  # v moves the lesion, -u does not
    assert (
        by.loc[1, "lesion_iou"] > 0.95
        and by.loc[1, "lesion_area_change"] < 0.05 < by.loc[0, "lesion_area_change"]
    )
    # outside the frame, removing it changes less than moving the lesion
    assert by.loc[1, "ssim_outside"] > max(0.8, by.loc[0, "ssim_outside"])
    assert t.loc[t["best"], "index"].tolist() == [1]


def test_pool_finds_rare_framed_samples_and_measures_their_removal():
    """Frames on ~4% of samples (w . u > 1.75): 32 seeds hold one or two; the pool search adds framed
    samples from later seeds (in seed order) until half the set is framed, and removal is measured there."""
    from dermsynth.edit.sampling import map_seeds, synthesize
    from test_edit_standin import ToyFrameG

    G = ToyFrameG(w_dim=8, frame_offset=1.75)
    det = get_scorer("dark_corner")
    base = evaluation_samples(G, EvalSettings(num=32, batch_size=32), det)
    k0 = int(base.det.present.sum())
    assert len(base.images) == 32 and base.searched == 32 and k0 < 4
    s = EvalSettings(num=32, alphas=(-3.0,), batch_size=32, pool=2000)
    got = evaluation_samples(G, s, det)
    assert int(got.det.present.sum()) == 16 and len(got.images) == 32 + 16 - k0 and got.det.present[32:].all()
    np.testing.assert_array_equal(got.images[:32], base.images)  # the first num seeds come first, unchanged
    assert 32 < got.searched < 2032
    # the added samples are the first framed ones of the searched seeds, whatever the search's batching
    seeds = range(32, got.searched)
    present = det(synthesize(G, map_seeds(G, seeds, None), "const", 500, "cpu")).present
    want = np.flatnonzero(present)[: 16 - k0]
    np.testing.assert_allclose(got.ws[32:].numpy(), map_seeds(G, [seeds[i] for i in want], None).numpy())
    assert len(present) - 64 <= want[-1] < len(present)  # the search stopped in the batch (64) that filled it
    # u at alpha -3 removes the frames: measured on the 16 framed samples, not the one or two of the first 32
    t = evaluate_directions(
        G, Directions(G.u.numpy()[None], [1.0], [], "svm"), [0], det, None, s, samples=got
    )
    assert (
        t.loc[0, "n_present"] == 16 and t.loc[0, "removed_frac"] >= 0.9 and t.loc[0, "n"] == len(got.images)
    )


def test_best_rule_respects_thresholds():
    t = pd.DataFrame(
        {
            "method": "svm",
            "index": [0, 1, 2],
            "alpha": [1.0, 1.0, 1.0],
            "removed_frac": [1.0, 0.8, 0.8],
            "ssim_outside": [0.9, 0.7, 0.9],
            "lesion_iou": [0.2, 0.9, 0.9],
            "class_kept": [1.0, 1.0, 1.0],
        }
    )
    b = choose_best(t, min_lesion_iou=0.5)
    assert b["eligible"].tolist() == [False, True, True] and b.loc[b["best"], "index"].tolist() == [2]
    nobody = choose_best(t, min_lesion_iou=0.99)
    assert not nobody["eligible"].any() and nobody.loc[nobody["best"], "index"].tolist() == [0]


def test_masked_ssim():
    r = np.random.default_rng(0)
    a = r.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    b = a.copy()
    b[:8, :8] = 0
    m = np.zeros((32, 32), bool)
    m[:14, :14] = True  # the changed patch plus the SSIM window reach
    assert masked_ssim(a, a) == 1.0
    assert masked_ssim(a, b) < 0.99
    assert masked_ssim(a, b, m) == 1.0
