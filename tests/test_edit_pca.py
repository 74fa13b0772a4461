"""PCA directions: orthonormal, equal to sklearn's PCA, batch-independent, file layout."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from dermsynth.edit import pca_directions, pca_of_generator


def _data(n=3000, d=10, seed=0):
    r = np.random.default_rng(seed)
    scales = np.linspace(3, 0.2, d)
    q, _ = np.linalg.qr(r.normal(size=(d, d)))
    return (r.normal(size=(n, d)) * scales) @ q.T + r.normal(size=d)


def test_pca_matches_sklearn_and_is_orthonormal():
    x = _data()
    got = pca_directions([x[:1000], x[1000:2500], x[2500:]])
    ref = PCA(svd_solver="full").fit(x)
    c = got.directions.astype(np.float64)
    np.testing.assert_allclose(c @ c.T, np.eye(10), atol=1e-6)
    signs = np.sign(np.sum(c * ref.components_, axis=1))
    np.testing.assert_allclose(c, ref.components_ * signs[:, None], atol=1e-5)
    np.testing.assert_allclose(got.values, ref.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(
        got.extra["explained_variance_ratio"], ref.explained_variance_ratio_, rtol=1e-8
    )
    np.testing.assert_allclose(got.extra["mean"], ref.mean_, atol=1e-10)


def test_pca_independent_of_batching():
    x = _data(500, 6, seed=1)
    a = pca_directions([x])
    b = pca_directions([x[i : i + 7] for i in range(0, len(x), 7)])
    np.testing.assert_allclose(a.directions, b.directions, atol=1e-6)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-9)


def test_pca_of_generator_per_class_and_global():
    from test_edit_standin import TinyG

    G = TinyG(c_dim=2, res=16, w_dim=12)
    g = pca_of_generator(G, num=300, k=5)
    c1 = pca_of_generator(G, num=300, class_idx=1, k=5)
    assert g.directions.shape == (5, 12) and g.meta["scope"] == "global" and g.meta["num_samples"] == 300
    assert c1.meta["class"] == 1 and g.layers.tolist() == list(range(G.num_ws))
    assert np.all(np.diff(g.values) <= 0)
    assert not np.allclose(g.extra["mean"], c1.extra["mean"])  # class 1 only vs. both classes
