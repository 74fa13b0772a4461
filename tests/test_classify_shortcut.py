"""The frame shortcut test flags a model that learned "frame = melanoma"; embeddings files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from dermsynth.classify.shortcut import dark_frame, remove_frame, shortcut_summary  # noqa: E402
from dermsynth.classify.toydata import make_blob_dataset  # noqa: E402


def test_summary_flags_frame_driven_scores():
    y = np.array([0, 0, 1, 1, 0, 1])
    frame = np.array([0, 0, 1, 1, 0, 1], bool)
    s0 = np.where(frame, 0.9, 0.1)
    flipped = np.where(frame, 0.1, 0.9)  # the score follows the frame, not the lesion
    r = shortcut_summary(y, frame, s0, flipped)
    assert (
        r["flagged"]
        and r["score_change_add"] == pytest.approx(0.8)
        and r["auc_change"] == pytest.approx(-1.0)
    )
    steady = shortcut_summary(y, frame, s0, s0 + 0.01)
    assert not steady["flagged"] and steady["auc_change"] == 0


def test_frame_add_and_remove():
    img = np.full((64, 64, 3), 180, np.uint8)
    framed, mask = dark_frame(img, np.random.default_rng(0))
    assert framed[0, 0].max() < 40 and framed[32, 32].min() == 180 and mask[0, 0] and not mask[32, 32]
    cleaned = remove_frame(framed)
    assert cleaned.shape == img.shape and cleaned.min() > 150  # crop inside the circle has no frame left


@pytest.mark.slow
def test_shortcut_test_catches_frame_biased_model(tmp_path):
    from dermsynth.classify.experiment import experiment_from_dict
    from dermsynth.classify.run import run_experiment

    # frame == label exactly; the lesion carries no class signal (separation 0)
    make_blob_dataset(tmp_path / "biased", 240, 32, seed=3, separation=0.0, frame_rate=(0.0, 1.0))
    exp = experiment_from_dict(
        {
            "preset": "tiny",
            "data": {"real": "biased"},
            "setups": ["real"],
            "sizes": {"real_per_class": 200, "val_total": 60},
            "train": {"epochs": 4},
            "eval": {"n_bootstrap": 50},
        },
        tmp_path,
    )
    table = run_experiment(exp, tmp_path / "run", "cpu", log=lambda m: None)
    assert table.loc[0, "AUC"] > 0.95  # looks perfect on the biased test set...
    assert bool(table.loc[0, "shortcut_flagged"])  # ...and the shortcut test exposes it
    assert table.loc[0, "shortcut_score_change_add"] > 0.15 and table.loc[0, "shortcut_auc_change"] < -0.5


def test_embed_outputs(tmp_path):
    from dermsynth.classify.embed import embed
    from dermsynth.classify.models import build_classifier

    make_blob_dataset(tmp_path / "r", 24, 32, seed=0)
    make_blob_dataset(tmp_path / "s", 16, 32, seed=1, source="synthetic")
    parts = []
    for name in ("r", "s"):
        df = pd.read_csv(tmp_path / name / "manifest.csv")
        df["path"] = [str(tmp_path / name / f) for f in df["file"]]
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    clf = build_classifier("tiny-cnn", "none")
    table = embed(clf.model, clf.mean, clf.std, 32, df, tmp_path / "emb", torch.device("cpu"))
    assert len(table) == 40 and (table["dist_class_centroid"] >= 0).all()
    emb = np.load(tmp_path / "emb" / "embeddings.npy")
    assert emb.shape == (40, 64)
    sel = ((df.source == "synthetic") & (df.label == 1)).to_numpy()
    ref = np.linalg.norm(emb[sel] - emb[sel].mean(0), axis=1)
    np.testing.assert_allclose(table.loc[sel, "dist_class_centroid"], ref, rtol=1e-4)
    proj = tmp_path / "emb" / "projector"
    assert len((proj / "tensors.tsv").read_text().splitlines()) == 40
    assert len((proj / "metadata.tsv").read_text().splitlines()) == 41
    assert "sprite" in (proj / "projector_config.pbtxt").read_text()
    assert (tmp_path / "emb" / "pca.png").stat().st_size > 5000
