"""SVM boundaries recover planted directions; orthogonalisation; frame boundary on a toy generator."""

from __future__ import annotations

import numpy as np
import pytest

from dermsynth.edit import boundary_from_scores, get_scorer, project_out, sample_scored_w
from dermsynth.edit.svm import extreme_labels


def test_svm_recovers_planted_direction():
    r = np.random.default_rng(0)
    d = r.normal(size=32)
    d /= np.linalg.norm(d)
    w = r.normal(size=(4000, 32)) + 0.5
    scores = w @ d + 0.1 * r.normal(size=len(w))
    b = boundary_from_scores(w, scores, fraction=0.3)
    assert float(b.normal @ d) > 0.95  # points towards high scores
    assert b.accuracy > 0.95 and b.balanced_accuracy > 0.95 and b.n_test > 0 and b.n_high == b.n_low == 1200
    np.testing.assert_allclose(np.linalg.norm(b.normal), 1, atol=1e-12)


def test_extreme_labels_take_top_and_bottom():
    idx, labels = extreme_labels(np.arange(10.0), 0.2)
    assert sorted(idx[labels == 1].tolist()) == [8, 9] and sorted(idx[labels == 0].tolist()) == [0, 1]
    with pytest.raises(ValueError):
        extreme_labels(np.arange(10.0), 0.7)
    # a detector that is 0 on most samples: high = the non-zero ones, low = all the zeros
    scores = np.concatenate([np.zeros(90), np.arange(1, 11)])
    idx, labels = extreme_labels(scores, 0.25)
    assert sorted(idx[labels == 1].tolist()) == list(range(90, 100)) and (labels == 0).sum() == 90
    idx, labels = extreme_labels(-scores, 0.25)
    assert sorted(idx[labels == 0].tolist()) == list(range(90, 100)) and (labels == 1).sum() == 90
    with pytest.raises(ValueError, match="do not separate"):
        extreme_labels(np.zeros(50), 0.25)


def test_project_out_makes_orthogonal():
    r = np.random.default_rng(1)
    d, a, b = r.normal(size=(3, 16))
    p = project_out(d, [a, b])
    assert abs(p @ a) < 1e-10 and abs(p @ b) < 1e-10 and abs(np.linalg.norm(p) - 1) < 1e-12
    with pytest.raises(ValueError, match="span"):
        project_out(a + b, [a, b])


def test_frame_boundary_on_toy_generator():
    from test_edit_standin import ToyFrameG

    G = ToyFrameG(w_dim=8)
    w, scores, labels = sample_scored_w(G, 400, get_scorer("dark_corner"), batch_size=100)
    assert labels is None and w.shape == (400, 8)
    b = boundary_from_scores(w, scores, fraction=0.3)
    assert float(b.normal @ G.u.numpy()) > 0.9
    assert b.accuracy > 0.9


def test_svm_directions_orthogonal_to_class_and_file(tmp_path):
    from dermsynth.edit import Directions, save_directions, svm_directions
    from dermsynth.edit.svm import class_boundary
    from test_edit_standin import TinyG

    G = TinyG(c_dim=2, res=16, w_dim=12)
    scorer = get_scorer("lesion_area")
    d = svm_directions(
        G, scorer, "lesion_area", num=200, fraction=0.3, orthogonal_to=["class"], batch_size=100
    )
    cls = class_boundary(G)
    assert abs(float(d.directions[0] @ cls.normal)) < 1e-5 and d.meta["orthogonal_to"][0].startswith("class")
    other = np.eye(12)[:2]
    save_directions(Directions(other, [1, 1], [], "pca"), tmp_path / "o.npz")
    e = svm_directions(
        G,
        scorer,
        "lesion_area",
        num=200,
        fraction=0.3,
        orthogonal_to=[f"{tmp_path / 'o.npz'}:1"],
        batch_size=100,
    )
    assert abs(float(e.directions[0, 1])) < 1e-6 and abs(float(e.directions[0, 0])) > 1e-4
    assert e.layers.tolist() == list(range(G.num_ws)) and 0 <= e.values[0] <= 1
