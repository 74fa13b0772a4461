"""Applying directions: alpha 0 is the identity, layer ranges, strips, datasets, until-clean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dermsynth.edit import (
    Directions,
    EditJob,
    clean_to_dataset,
    edit_strip,
    edit_to_dataset,
    edit_ws,
    get_scorer,
    parse_alphas,
    strip_image,
    until_clean,
)
from dermsynth.edit.sampling import map_seeds, synthesize


def _unit(n, seed=0):
    d = np.random.default_rng(seed).normal(size=n)
    return d / np.linalg.norm(d)


@pytest.fixture(scope="module")
def G():
    from test_edit_standin import make_generator

    return make_generator(2, 32)


def test_alpha_zero_returns_original_exactly(G):
    ws = map_seeds(G, [0, 1, 2], [0, 1, 0])
    orig = synthesize(G, ws)
    d = _unit(G.w_dim)
    assert torch.equal(edit_ws(ws, d, 0.0), ws)
    np.testing.assert_array_equal(synthesize(G, edit_ws(ws, d, 0.0)), orig)
    imgs, alphas, mid = edit_strip(G, ws, d, parse_alphas("-3:3:7"))
    assert alphas == [-3, -2, -1, 0, 1, 2, 3] and mid == 3
    np.testing.assert_array_equal(imgs[:, mid], orig)
    assert not np.array_equal(imgs[:, 0], orig)


def test_layer_range_edit_leaves_other_ws_untouched(G):
    ws = map_seeds(G, [3, 4], [1, 1])
    d = torch.as_tensor(_unit(G.w_dim, 1), dtype=ws.dtype)
    out = edit_ws(ws, d, 2.5, [0, 1, 2])
    assert torch.equal(out[:, 3:], ws[:, 3:])
    torch.testing.assert_close(out[:, :3] - ws[:, :3], 2.5 * d.expand(2, 3, -1))
    per = edit_ws(ws, d, [1.0, -1.0], [4])
    torch.testing.assert_close(per[:, 4] - ws[:, 4], torch.stack([d, -d]))
    with pytest.raises(ValueError, match="out of range"):
        edit_ws(ws, d, 1.0, [G.num_ws])
    with pytest.raises(ValueError, match="dims"):
        edit_ws(ws, np.ones(G.w_dim + 1), 1.0)


def test_parse_alphas_and_strip_image():
    assert parse_alphas("-2,0,2") == [-2.0, 0.0, 2.0]
    with pytest.raises(ValueError, match="bad alphas"):
        parse_alphas("1:2")
    imgs = np.zeros((2, 3, 4, 5, 3), np.uint8)
    s = strip_image(imgs, original_col=1, pad=2)
    assert s.shape == (2 * 6 + 2, 3 * 7 + 2, 3)
    assert tuple(s[0, 8]) == (255, 196, 0)  # frame around the original column


def test_edit_to_dataset_manifest_and_resume(G, tmp_path):
    dirs = Directions(np.stack([_unit(G.w_dim, 2), _unit(G.w_dim, 3)]), [2.0, 1.0], [], "pca")
    job = EditJob(
        dirs,
        index=1,
        layers=[0, 1],
        class_idx=1,
        network="net.safetensors",
        directions_file="d.npz",
        batch_size=2,
    )
    out = tmp_path / "edited"
    edit_to_dataset(G, job, [5, 6, 7], [-1.0, 0.0, 1.0], out)
    df = pd.read_csv(out / "manifest.csv")
    assert len(df) == 9 and set(df["seed"]) == {5, 6, 7} and set(df["alpha"]) == {-1.0, 0.0, 1.0}
    assert (df["direction_index"] == 1).all() and (df["method"] == "pca").all() and (df["label"] == 1).all()
    assert (df["parent_id"] == [f"seed{s:06d}-melanoma" for s in df["seed"]]).all() and (
        df["layers"] == "0,1"
    ).all()
    assert all((out / f).exists() for f in df["file"])
    import json

    labels = json.loads((out / "dataset.json").read_text())["labels"]
    assert len(labels) == 9 and labels[0][1] == 1
    # alpha 0 image equals the unedited sample
    from dermsynth.core.io import read_rgb

    f0 = df[(df["seed"] == 6) & (df["alpha"] == 0)]["file"].iloc[0]
    np.testing.assert_array_equal(read_rgb(out / f0), synthesize(G, map_seeds(G, [6], 1))[0])
    # resume: a deleted image is made again, the rest are kept
    (out / f0).unlink()
    mtime = (out / df["file"].iloc[0]).stat().st_mtime_ns
    edit_to_dataset(G, job, [5, 6, 7], [-1.0, 0.0, 1.0], out)
    assert (out / f0).exists() and (out / df["file"].iloc[0]).stat().st_mtime_ns == mtime
    assert len(pd.read_csv(out / "manifest.csv")) == 9


def test_until_clean_removes_toy_frames(tmp_path):
    from dermsynth.bias import THRESHOLDS
    from test_edit_standin import ToyFrameG

    G = ToyFrameG(w_dim=8)
    det = get_scorer("dark_corner")
    ws = map_seeds(G, list(range(40)))
    first = det(synthesize(G, ws))
    assert 5 < first.present.sum() < 35
    u = G.u.numpy()
    res = until_clean(G, ws, u, det, sign=-1.0, step=0.5, max_alpha=8)
    assert all(s == "cleaned" for s, p in zip(res.status, first.present, strict=True) if p)
    assert all(s == "already_clean" for s, p in zip(res.status, first.present, strict=True) if not p)
    assert not det(res.images).present.any()
    assert np.all(res.alpha[first.present] < 0) and np.all(res.alpha[~first.present] == 0)
    # the dataset writer with the sign chosen automatically
    dirs = Directions(u[None], [1.0], [], "svm")
    manifest, sign = clean_to_dataset(
        G, EditJob(dirs, 0, batch_size=16), list(range(40)), det, "dark_corner", tmp_path / "clean"
    )
    df = pd.read_csv(manifest)
    assert sign == -1.0 and len(df) == 40 and (df["status"] != "still_present").all()
    assert (df["score_after"] < THRESHOLDS["dark_corner"]).all() and (df["label"] == -1).all()
