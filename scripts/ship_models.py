"""Measure a trained model and put it into the registry with its card (how the shipped models were made).

    PYTHONPATH=src python scripts/ship_models.py artifacts --src RUN_DIR --info info.json
    PYTHONPATH=src python scripts/ship_models.py melanoma --src CLASSIFY_RUN --info info.json
    PYTHONPATH=src python scripts/ship_models.py gen --src NETWORK_STEM --info info.json

``info.json`` holds the card fields that only the person who trained the model knows (command,
hardware, hours, epochs or kimg, notes). Every figure in the card is measured here, on the float16
copy that ships, on isic2017-256 ``val`` (never used for training, thresholds or model selection),
and the reference outputs that tests/test_models.py checks are computed on images made by
``reference_images`` (phantom images of seed 2017; no data file needed).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.core.paths import shared_data_dir
from dermsynth.models.publish import publish_model

REF_N = 4


def reference_images(n: int = REF_N, size: int = 256) -> list[np.ndarray]:
    """Same as tests/test_models.py::reference_images."""
    from dermsynth.data.phantom import render_phantom

    return [render_phantom(i, 2017, size, label=i % 2).image for i in range(n)]


def _isic_val_dataset(out: Path, split: str = "val") -> Path:
    from dermsynth.core.manifest import write_manifest

    src = shared_data_dir() / "isic2017-256"
    lab = pd.read_csv(src / "labels.csv", dtype={"image_id": str})
    lab = lab[lab["split"] == split]
    df = pd.DataFrame(
        {
            "image_id": lab["image_id"],
            "file": [str(src / "images" / f"{i}.jpg") for i in lab["image_id"]],
            "label": lab["melanoma"].astype(int),
            "class_name": lab["melanoma"].map({0: "not_melanoma", 1: "melanoma"}),
            "source": "isic2017-256",
            "split": split,
        }
    )
    for a in ("dark_corner", "hair", "ruler", "ink", "gel_bubble", "gel_border"):
        df[a + "_annotated"] = lab[a].where(lab["has_bias_annotation"] == 1).to_numpy()
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(df, out)
    return out


def ship_artifacts(src: Path, info: dict, name: str = "isic2017-artifacts") -> Path:
    from dermsynth.bias.audit import audit_dataset, parse_method
    from dermsynth.bias.evaluate import evaluate_dataset
    from dermsynth.bias.model import load_model, predict_proba

    truth = shared_data_dir() / "isic2017-256" / "labels.csv"
    meta = json.loads((src / "model.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = {**info, "figures": {}}
        publish_model(src, name, base, tmp, half=True)
        shipped = tmp / name
        figures: dict = {"holdout_f1": meta["holdout_f1"], "choice": meta["choice"]}
        for m in ("heuristic", f"model:{shipped}", f"best:{shipped}"):
            d = _isic_val_dataset(tmp / m.split(":")[0] / "ds")
            d.joinpath("manifest.csv")
            audit_dataset(d, parse_method(m), figures=False)
            res = evaluate_dataset(d, truth)
            figures["val_" + m.split(":")[0]] = {
                a: {k: r[k] for k in ("precision", "recall", "f1", "auc", "n_pos", "n")}
                for a, r in res.items()
            }
        model, meta = load_model(shipped)
        ref = predict_proba(model, reference_images(), meta["image_size"], tta=meta.get("tta", True))
    card = {
        **info,
        "figures": figures,
        "default_for": ["bias-audit"],
        "reference": {"n": REF_N, "tta": meta.get("tta", True), "outputs": ref.tolist()},
    }
    return publish_model(src, name, card, None, half=True)


def ship_melanoma(run: Path, info: dict, name: str = "isic2017-melanoma") -> Path:
    from dermsynth.classify.exported import export_setup, load_classifier, predict_dataset, predict_images
    from dermsynth.classify.metrics import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        export_setup(run, "real", tmp / "export")
        publish_model(tmp / "export", name, {**info, "figures": {}}, tmp / "reg", half=True)
        shipped = tmp / "reg" / name
        ds = _isic_val_dataset(tmp / "val")
        figures = {}
        for tta in (False, True):
            p = predict_dataset(ds, shipped, tta=tta, device="cpu")
            row = evaluate(p["label"], p["score"], n_boot=2000, seed=0, target_sensitivity=None)
            figures[f"val_tta_{str(tta).lower()}"] = {
                k: row[k] for k in ("AUC", "AUC_CI_low", "AUC_CI_high") if k in row
            } | {"n": int(len(p)), "n_melanoma": int(p["label"].sum())}
        shortcut = run / "setups" / "real" / "shortcut.json"
        if shortcut.is_file():
            figures["shortcut_test_val"] = json.loads(shortcut.read_text())
        done = json.loads((run / "setups" / "real" / "done.json").read_text())
        figures["selection_auc_holdout_of_train"] = done.get("val_auc")
        clf, meta = load_classifier(shipped)
        ref = predict_images(clf, meta, reference_images(), tta=True)
        card = {
            **info,
            "figures": figures,
            "default_for": ["classify-predict", "metrics-dermo", "edit-class-judge"],
            "reference": {"n": REF_N, "tta": True, "outputs": ref.tolist()},
        }
        return publish_model(tmp / "export", name, card, None, half=True)


def ship_gen(stem: Path, info: dict, name: str = "isic2017-gen") -> Path:
    import shutil

    import torch

    from dermsynth.gan.checkpoint import load_generator, network_paths
    from dermsynth.gan.generate import seed_z

    w, j = network_paths(stem)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "net"
        folder.mkdir()
        shutil.copyfile(w, folder / "network.safetensors")
        shutil.copyfile(j, folder / "network.json")
        G = load_generator(folder / "network")
        seeds, classes = [0, 1, 2, 3], [0, 1, 0, 1]
        z = torch.from_numpy(np.stack([seed_z(s, G.z_dim) for s in seeds]))
        c = torch.nn.functional.one_hot(torch.tensor(classes), G.c_dim).float()
        with torch.no_grad():
            means = G(z, c, truncation_psi=1.0, noise_mode="const").float().mean(dim=(2, 3)).numpy()
        card = {
            **info,
            "reference": {"seeds": seeds, "classes": classes, "channel_means": means.tolist()},
        }
        # float32 kept: network.json records the weights' sha256 as written by training
        return publish_model(folder, name, card, None, half=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["artifacts", "melanoma", "gen"])
    ap.add_argument("--src", required=True, type=Path)
    ap.add_argument("--info", required=True, type=Path, help="JSON of the card fields known from training")
    args = ap.parse_args()
    info = json.loads(args.info.read_text())
    fn = {"artifacts": ship_artifacts, "melanoma": ship_melanoma, "gen": ship_gen}[args.what]
    path = fn(args.src, info)
    print(json.dumps(json.loads(path.read_text())["figures"], indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
