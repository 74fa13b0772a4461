"""FID / KID / precision-recall maths against closed forms, scipy and torch-fidelity on the same features."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from dermsynth.metrics.frechet import feature_stats, fid_from_features, frechet_distance
from dermsynth.metrics.kid import kernel_inception_distance, polynomial_mmd2
from dermsynth.metrics.precision_recall import precision_recall


def _feats(n=400, d=16, shift=0.0, scale=1.0, seed=0):
    r = np.random.default_rng(seed)
    return (r.standard_normal((n, d)) * scale + shift).astype(np.float32)


def test_fid_self_zero_and_symmetric():
    a, b = _feats(seed=0), _feats(shift=0.3, seed=1)
    assert abs(fid_from_features(a, a)) < 1e-6
    assert fid_from_features(a, b) == pytest.approx(fid_from_features(b, a), rel=1e-9, abs=1e-9)
    assert fid_from_features(a, b) > 0.5


def test_fid_low_rank_route_equals_covariance_route():
    a, b = _feats(40, 100, seed=13), _feats(30, 100, shift=0.2, scale=1.5, seed=14)
    full = frechet_distance(*feature_stats(a), *feature_stats(b))
    assert fid_from_features(a, b) == pytest.approx(full, rel=1e-7)
    assert abs(fid_from_features(a, a)) < 1e-8


def test_fid_gaussians_closed_form():
    # N(m1, s1^2 I) vs N(m2, s2^2 I): |m1-m2|^2 + D (s1 - s2)^2
    d = 8
    r = np.random.default_rng(3)
    mu1, mu2 = r.standard_normal(d), r.standard_normal(d)
    s1, s2 = 1.5, 0.5
    exact = float(((mu1 - mu2) ** 2).sum() + d * (s1 - s2) ** 2)
    assert frechet_distance(mu1, s1**2 * np.eye(d), mu2, s2**2 * np.eye(d)) == pytest.approx(exact, rel=1e-10)
    # and from samples of those Gaussians (sampling error only)
    a = r.standard_normal((200_000, d)) * s1 + mu1
    b = r.standard_normal((200_000, d)) * s2 + mu2
    assert fid_from_features(a, b) == pytest.approx(exact, rel=0.02)


def test_fid_general_covariances_closed_form_vs_scipy_sqrtm():
    r = np.random.default_rng(4)
    d = 12
    a, b = r.standard_normal((d, d)), r.standard_normal((d, d))
    s1, s2 = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.1 * np.eye(d)
    mu1, mu2 = r.standard_normal(d), r.standard_normal(d)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8)


def test_fid_equals_torch_fidelity_on_same_features():
    torch = pytest.importorskip("torch")
    mf = pytest.importorskip("torch_fidelity.metric_fid")
    a, b = _feats(300, 32, seed=5), _feats(250, 32, shift=0.2, scale=1.3, seed=6)
    st1 = mf.fid_features_to_statistics(torch.from_numpy(a).double())
    st2 = mf.fid_features_to_statistics(torch.from_numpy(b).double())
    ref = mf.fid_statistics_to_metric(st1, st2, False)[mf.KEY_METRIC_FID]
    assert fid_from_features(a, b) == pytest.approx(ref, abs=1e-3)
    mu, s = feature_stats(a)
    np.testing.assert_allclose(s, np.cov(a.astype(np.float64), rowvar=False), rtol=1e-10)


def test_kid_equals_torch_fidelity_and_zero_on_identical():
    torch = pytest.importorskip("torch")
    mk = pytest.importorskip("torch_fidelity.metric_kid")
    a, b = _feats(300, 16, seed=7), _feats(260, 16, shift=0.3, seed=8)
    ours = kernel_inception_distance(a, b, num_subsets=20, max_subset_size=200, seed=2020)
    ref = mk.kid_features_to_metric(
        torch.from_numpy(a),
        torch.from_numpy(b),
        kid_subsets=20,
        kid_subset_size=200,
        verbose=False,
        rng_seed=2020,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
    )
    assert ours[0] == pytest.approx(ref[mk.KEY_METRIC_KID_MEAN], abs=1e-6)
    assert ours[1] == pytest.approx(ref[mk.KEY_METRIC_KID_STD], abs=1e-6)
    # two samples of one distribution: ~0, far below the shifted pair
    c = _feats(300, 16, seed=17)
    assert abs(kernel_inception_distance(a, c)[0]) < 0.05 * ours[0]
    # literally the same set (subset = whole set): the unbiased estimator's closed form, -2 tr(K) / m^2 + ...
    x = a.astype(np.float64)
    kxx = (x @ x.T / 16 + 1) ** 3
    m = len(x)
    exact = 2 * (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) - 2 * kxx.sum() / m**2
    assert kernel_inception_distance(a, a, num_subsets=3)[0] == pytest.approx(exact, rel=1e-9)


def test_kid_subset_clamped_and_mmd_unbiased_reference():
    a, b = _feats(30, 4, seed=9), _feats(50, 4, seed=10)
    mean, _ = kernel_inception_distance(a, b, num_subsets=5)  # 1000 clamps to 30
    assert np.isfinite(mean)
    # brute-force unbiased estimator
    x, y = a[:20].astype(np.float64), b[:20].astype(np.float64)
    k = lambda u, v: (u @ v / 4 + 1) ** 3  # noqa: E731
    m = 20
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    assert polynomial_mmd2(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-9)


def test_precision_recall_equals_torch_fidelity():
    torch = pytest.importorskip("torch")
    mp = pytest.importorskip("torch_fidelity.metric_prc")
    real, fake = _feats(300, 8, seed=11), _feats(200, 8, shift=0.5, scale=0.7, seed=12)
    p, r = precision_recall(real, fake, k=3, chunk=64)
    rp, rr = mp.calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), 3, 10000)
    assert p == pytest.approx(rp, abs=1e-6) and r == pytest.approx(rr, abs=1e-6)
    assert 0 < p < 1 and 0 < r < 1
    p2, r2 = precision_recall(real, real, k=3)
    assert p2 == 1.0 and r2 == 1.0


def test_cached_real_statistics_give_the_same_fid():
    from dermsynth.metrics.kinds import _fid

    fid = _fid(None, None)  # the figure function of the fid kind: (real, fake, cached real stats)
    a, b = _feats(300, 16, seed=20), _feats(280, 16, shift=0.1, seed=21)
    plain = fid(a, b, None)[""]
    cached = fid(a, b, feature_stats(a))[""]
    assert cached == pytest.approx(plain, rel=1e-10)
