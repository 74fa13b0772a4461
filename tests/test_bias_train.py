"""Learned artifact classifier: training on phantom ground truth, export without pickle, resume, audit."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from dermsynth.bias.audit import audit_dataset, decisions, parse_method
from dermsynth.bias.model import load_model, predict_proba
from dermsynth.bias.train import ArtifactTrainConfig, train_classifier
from dermsynth.core.io import read_rgb
from dermsynth.core.manifest import read_manifest
from dermsynth.core.stats import read_jsonl

CFG = ArtifactTrainConfig(weights=None, size=32, epochs=1, batch_size=8, holdout=0.3, tta=False, device="cpu")


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    from dermsynth.data.phantom import make_phantom_dataset

    rates = {"dark_corner": 0.5, "hair": 0.5, "ruler": 0.5, "ink": 0.5, "gel_bubble": 0.5}
    return make_phantom_dataset(tmp_path_factory.mktemp("ph") / "ph", 24, 64, seed=3, rates=rates)


@pytest.mark.slow
def test_train_exports_state_dict_and_json_and_resumes(phantom, tmp_path):
    out = tmp_path / "m"
    cfg = dataclasses.replace(CFG, epochs=2)

    def interrupt(epoch, loss, f1):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_classifier(phantom, out, cfg=cfg, on_epoch=interrupt)  # killed after the first epoch
    assert len(read_jsonl(out / "stats.jsonl")) == 1 and not (out / "model.json").exists()
    with pytest.raises(ValueError, match="different configuration"):
        train_classifier(phantom, out, cfg=CFG)
    meta_path = train_classifier(phantom, out, cfg=cfg)  # the same command resumes at the second epoch
    assert [r["epoch"] for r in read_jsonl(out / "stats.jsonl")] == [0, 1]
    meta = json.loads(meta_path.read_text())
    assert meta["artifacts"] == ["dark_corner", "hair", "ruler", "ink", "gel_bubble"]
    assert set(meta["choice"].values()) <= {"model", "heuristic"}
    for a in meta["artifacts"]:  # bias.select: the model only where it wins on unseen holdout folds
        sel = meta["selection"][a]
        assert (
            meta["choice"][a]
            == sel["source"]
            == ("model" if sel["cv_f1_model"] > sel["cv_f1_heuristic"] else "heuristic")
        )
        assert meta["heuristic"][a]["threshold"] == sel["heuristic_threshold"] and sel["n_train"] == 24
    assert meta["weights"]["weights"] == "random-init" and meta["n_train"] + meta["n_holdout"] == 24
    assert sorted(p.name for p in out.iterdir() if p.suffix in (".safetensors", ".json")) == [
        "model.json",
        "model.safetensors",
    ]

    model, meta2 = load_model(out)
    imgs = [read_rgb(phantom / f) for f in read_manifest(phantom)["file"][:5]]
    p = predict_proba(model, imgs, meta2["image_size"], tta=False)
    assert p.shape == (5, 5) and ((p >= 0) & (p <= 1)).all()
    p_tta = predict_proba(model, [np.ascontiguousarray(imgs[0][:, ::-1])], 32, tta=True)
    assert np.allclose(p_tta, predict_proba(model, imgs[:1], 32, tta=True), atol=1e-5)  # flip-invariant

    for method in ("model", "best"):
        audit_dataset(phantom, parse_method(f"{method}:{out}"), figures=False)
        df = read_manifest(phantom)
        dec = decisions(parse_method(f"{method}:{out}"), meta)
        for a, d in dec.items():
            assert (
                df[a] == (df[f"{a}_score"] >= round(d.threshold, 6) - 1e-6).astype(int)
            ).all() or d.source == "model"
        assert dec["gel_border"].source == "heuristic"  # the phantom has no gel borders: heuristic fills in
        if method == "model":
            assert all(dec[a].source == "model" for a in meta["artifacts"])


def test_missing_model_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.json"):
        load_model(tmp_path)
