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
    from dermsynth.bias.annotations import labels_dataset

    return labels_dataset(shared_data_dir() / "isic2017-256", out, split)


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
        for key in ("selection", "tta_selection", "excluded"):
            if key in meta:
                figures[key] = meta[key]
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


def select_artifacts(name: str = "isic2017-artifacts", min_tta_gain: float = 0.01) -> tuple[Path, dict]:
    """Re-choose the shipped artifact model's sources, thresholds and test-time views so that they
    transfer (``bias.select``, issue 27.1), without retraining: the weights are kept, ``model.json`` is
    rewritten in a new folder (returned, with what was measured) for :func:`ship_artifacts`.

    Test-time augmentation costs one forward pass per view; the view count (1, 2, 4 or 8,
    ``bias.model.VIEWS``) is the fewest with which no artifact's cross-validated holdout F1 (of its chosen
    source) falls more than ``min_tta_gain`` below the best-mean count's (``bias.select.choose_views``,
    issue 27.6).
    """
    import dataclasses
    import shutil

    from dermsynth.bias.evaluate import best_threshold
    from dermsynth.bias.model import VIEWS, load_model, predict_views
    from dermsynth.bias.select import MIN_F1, choose_views, excluded_artifacts, mean_cv_f1
    from dermsynth.bias.train import ArtifactTrainConfig, heuristic_scores, prepare, select_sources
    from dermsynth.models import resolve

    shipped = resolve(name)
    model, meta = load_model(shipped)
    names = {f.name for f in dataclasses.fields(ArtifactTrainConfig)}
    cfg = ArtifactTrainConfig(**{k: v for k, v in meta["config"].items() if k in names})
    src = shared_data_dir() / "isic2017-256"
    prep = prepare(src, src / "labels.csv", cfg)
    if prep.artifacts != meta["artifacts"] or int(prep.hold.sum()) != meta["n_holdout"]:
        raise ValueError(f"{shipped}: the holdout of model.json cannot be rebuilt from {src}")
    heur = heuristic_scores(prep)
    idx = np.flatnonzero(prep.hold)
    per_view = np.concatenate(  # [8 views, holdout, labels]; VIEWS[v] are the first v of them
        [predict_views(model, prep.images[idx[s : s + 64]], 8, "cpu") for s in range(0, len(idx), 64)], axis=1
    )
    probs = {v: per_view[: len(VIEWS[v])].mean(0) for v in VIEWS}
    sels = {v: select_sources(prep, probs[v], heur, cfg.seed) for v in VIEWS}
    by_views = {v: round(mean_cv_f1(sel), 4) for v, sel in sels.items()}
    views = choose_views({v: {a: c.cv_f1 for a, c in sel.items()} for v, sel in sels.items()}, min_tta_gain)
    sel = sels[views]
    truth_h = prep.labels[prep.hold]
    new = {
        **meta,
        "tta": views,
        "thresholds": {a: c.model_threshold for a, c in sel.items()},
        "holdout_f1": {a: best_threshold(truth_h[:, j], probs[views][:, j])[1] for j, a in enumerate(prep.artifacts)},
        "heuristic": {a: {"threshold": c.heuristic_threshold, "f1": c.cv_f1_heuristic} for a, c in sel.items()},
        "choice": {a: c.source for a, c in sel.items()},
        "selection": {a: c.as_dict() for a, c in sel.items()},
        "excluded": excluded_artifacts(sel),
        "min_f1": MIN_F1,
        "tta_selection": {"mean_cv_f1_by_views": by_views, "min_gain": min_tta_gain, "views": views},
    }  # fmt: skip
    out = Path(tempfile.mkdtemp(prefix="artifacts-select-"))
    shutil.copyfile(shipped / "model.safetensors", out / "model.safetensors")
    (out / "model.json").write_text(json.dumps(new, indent=2))
    return out, {"selection": new["selection"], "tta_selection": new["tta_selection"],
                 "selection_by_views": {v: {a: c.as_dict() for a, c in s.items()} for v, s in sels.items()}}  # fmt: skip


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
        figures["selection_auc_holdout_of_train"] = done.get("best_val_auc")
        clf, meta = load_classifier(shipped)
        ref = predict_images(clf, meta, reference_images(), tta=True)
        card = {
            **info,
            "figures": figures,
            "default_for": ["classify-predict", "metrics-dermo", "edit-class-judge"],
            "reference": {"n": REF_N, "tta": True, "outputs": ref.tolist()},
        }
        return publish_model(tmp / "export", name, card, None, half=True)


def _read_real(split: str, n: int | None, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """isic2017-256 images of ``split`` (all, or a seeded ``n``) resized to ``size`` (Lanczos), labels.

    The split is the library's reading of ``labels.csv`` (``bias.annotations.labels_dataset``, as the
    val sets of the other cards), in image-id order."""
    from PIL import Image

    from dermsynth.core.manifest import read_manifest

    with tempfile.TemporaryDirectory() as tmp:
        lab = read_manifest(_isic_val_dataset(Path(tmp) / "ds", split)).sort_values("image_id")
    if n is not None and n < len(lab):
        lab = lab.iloc[np.sort(np.random.default_rng(seed).choice(len(lab), n, replace=False))]
    imgs = [
        np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.Resampling.LANCZOS))
        for f in lab["file"]
    ]
    return np.stack(imgs), lab["label"].to_numpy()


def _write_dataset(d: Path, parts: list[tuple[np.ndarray, np.ndarray, str | None]], source: str = "") -> Path:
    """A dataset folder (PNG images, manifest.csv with labels, ``source`` and, where given, the split) of
    uint8 images."""
    from dermsynth.core.io import write_png
    from dermsynth.core.manifest import CLASS_NAMES, write_manifest

    rows = []
    for images, labels, split in parts:
        for im, y in zip(images, labels, strict=True):
            k = f"{len(rows):05d}"
            write_png(d / "images" / f"{k}.png", im)
            rows.append({"image_id": k, "file": f"images/{k}.png", "label": int(y), "split": split,
                         "class_name": CLASS_NAMES[int(y)], "source": source})  # fmt: skip
    write_manifest(pd.DataFrame(rows), d)
    return d


def _audit_prevalence(images: np.ndarray, labels: np.ndarray, tmp: Path, tag: str) -> dict:
    """Artifact prevalence per class by the shipped audit (isic2017-artifacts, method best)."""
    from dermsynth.bias.audit import audit_dataset
    from dermsynth.bias.columns import artifact_flags, audited_artifacts
    from dermsynth.core.manifest import ARTIFACTS, read_manifest

    d = _write_dataset(tmp / f"audit-{tag}", [(images, labels, None)], source=tag)
    audit_dataset(d, "best", figures=False)
    man = read_manifest(d)
    audited = audited_artifacts(man, ARTIFACTS)  # not those the shipped model leaves out (gel bubbles)
    flags = artifact_flags(man, audited)
    out = {}
    for a in audited:
        out[a] = {c: round(float(flags.loc[man["label"] == y, a].mean()), 3)
                  for y, c in ((0, "not_melanoma"), (1, "melanoma"))}  # fmt: skip
    return out


def _grid(images: np.ndarray, path: Path, cols: int = 8, scale: int = 2) -> None:
    """The library's mosaic (``gan.generate.image_grid``, ``cols`` per row) enlarged ``scale`` times."""
    from PIL import Image

    from dermsynth.core.io import write_png
    from dermsynth.gan.generate import image_grid

    n, h, w, _ = images.shape
    rows = -(-n // cols)
    canvas = np.zeros((rows * cols, h, w, 3), np.uint8)  # pad to full rows: cols columns whatever n
    canvas[:n] = images
    img = Image.fromarray(image_grid(canvas, rows)).resize(
        (cols * w * scale, rows * h * scale), Image.Resampling.LANCZOS
    )
    write_png(path, np.asarray(img))


def gen_figures(stem: Path, n_per_class: int = 500, docs: Path | None = None) -> dict:
    """FID (EfficientNet-Lite0 and isic2017-melanoma features) of generated vs val beside the real floor,
    the linear probe (generated vs real, with its real-vs-real control), artifact prevalence per class
    (generated vs real), the shipped classifier's AUC on generated images."""
    from sklearn.metrics import roc_auc_score

    from dermsynth.classify.exported import load_classifier, predict_images
    from dermsynth.gan.checkpoint import load_generator
    from dermsynth.gan.generate import generate_images
    from dermsynth.metrics import compute_metrics
    from dermsynth.metrics.driver import MetricOptions
    from dermsynth.metrics.result import read_metrics, write_metrics

    G = load_generator(stem)
    res = G.img_resolution
    seeds = list(range(2 * n_per_class))
    classes = [s % 2 for s in seeds]
    fake = np.concatenate([b[1] for b in generate_images(G, seeds, classes, 1.0, "const", 64)])
    fake_y = np.array(classes)
    val, val_y = _read_real("val", None, res)
    train, train_y = _read_real("train", None, res)
    fig: dict = {"resolution": res, "n_generated": len(fake), "n_val": len(val)}
    # FID of generated vs val beside the real floor (train vs val), in two feature spaces: the floor
    # protocol of the one metrics driver (metrics/floor.py), on the images written as two datasets
    names = {f"fid{len(fake)}_effnetlite": "effnet-lite0", f"fid{len(fake)}_dermo": "isic2017-melanoma"}
    with tempfile.TemporaryDirectory() as tmp:
        real_dir = _write_dataset(Path(tmp) / "real", [(train, train_y, "train"), (val, val_y, "val")])
        fake_dir = _write_dataset(Path(tmp) / "fake", [(fake, fake_y, None)])
        opts = MetricOptions(device="cpu", dermo="isic2017-melanoma", floor=True, floor_reference=("val",),
                             per_class=False, use_cache=False)  # fmt: skip
        probe = f"probe{len(fake)}_effnetlite"  # generated vs real (train + val), with a real-vs-real control
        write_metrics(Path(tmp) / "metrics.json", compute_metrics(real_dir, fake_dir=fake_dir,
                                                                  metrics=[*names, probe], options=opts))  # fmt: skip
        m = read_metrics(Path(tmp) / "metrics.json")
    floor = m.floor() or {}
    fig["n_real_floor"] = floor.get("num")
    for metric, name in names.items():
        gen, base = floor["generated"][metric], floor["results"][metric]
        fig[f"fid_{name}_vs_val"] = {"generated": round(gen, 3), "real_train_floor": round(base, 3),
                                     "ratio": round(gen / base, 3), "goal_ratio": 1.5,
                                     "features": m.features(metric)}  # fmt: skip
    acc, control = m.probe()
    fig["linear_probe_effnet-lite0"] = {
        "generated_vs_real": round(acc, 3), "real_vs_real_control": round(control, 3), "goal": 0.8,
        "per_side": m.details(probe).get("per_side"), "control_per_side": m.details(probe).get("control_per_side"),
        "real": "train + val at the generator's resolution", "features": m.features(probe),
        "model": "standardised features, logistic regression (balanced), 5-fold balanced accuracy",
    }  # fmt: skip
    pick = np.sort(np.random.default_rng(0).choice(len(train), min(len(fake), len(train)), replace=False))
    train, train_y = train[pick], train_y[pick]  # as many real train images as generated ones
    k = 120  # per class for the audit (8-view TTA makes it the slow part)
    pick_f = np.concatenate([np.flatnonzero(fake_y == y)[:k] for y in (0, 1)])
    pick_t = np.concatenate([np.flatnonzero(train_y == y)[:k] for y in (0, 1)])
    fig["artifact_prevalence_n_per_class"] = k
    with tempfile.TemporaryDirectory() as tmp:
        fig["artifact_prevalence_generated"] = _audit_prevalence(
            fake[pick_f], fake_y[pick_f], Path(tmp), "generated"
        )
        fig["artifact_prevalence_real_train"] = _audit_prevalence(
            train[pick_t], train_y[pick_t], Path(tmp), "real"
        )
    clf, meta = load_classifier("isic2017-melanoma")
    p = predict_images(clf, meta, list(fake), tta=False)
    pr = predict_images(clf, meta, list(train), tta=False)
    fig["melanoma_classifier_on_generated"] = {
        "auc_by_conditioning_class": round(float(roc_auc_score(fake_y, p)), 3),
        "mean_score_melanoma_class": round(float(p[fake_y == 1].mean()), 3),
        "mean_score_other_class": round(float(p[fake_y == 0].mean()), 3),
        "same_on_real_train_images_at_this_resolution": round(float(roc_auc_score(train_y, pr)), 3),
    }
    if docs is not None:
        for y, cname in ((0, "not_melanoma"), (1, "melanoma")):
            _grid(fake[fake_y == y][:32], docs / f"isic2017-gen-{cname}.png")
            _grid(train[train_y == y][:32], docs / f"isic2017-real-{cname}.png")
    return fig


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
        docs = Path(__file__).resolve().parents[1] / "docs" / "images"
        card = {
            **info,
            "figures": gen_figures(folder / "network", docs=docs),
            "default_for": ["gan-transfer"],
            "reference": {"seeds": seeds, "classes": classes, "channel_means": means.tolist()},
        }
        # float32 kept: network.json records the weights' sha256 as written by training
        return publish_model(folder, name, card, None, half=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["artifacts", "artifacts-select", "melanoma", "gen"])
    ap.add_argument("--src", type=Path, help="the trained model's folder (not for artifacts-select)")
    ap.add_argument("--info", type=Path, help="JSON of the card fields known from training (default for "
                    "artifacts-select: the shipped card's)")  # fmt: skip
    args = ap.parse_args()
    if args.what == "artifacts-select":  # re-choose sources / thresholds / TTA of the shipped model, re-ship
        from dermsynth.models import resolve

        card = json.loads((resolve("isic2017-artifacts") / "card.json").read_text())
        info = json.loads(args.info.read_text()) if args.info else {
            k: v for k, v in card.items() if k not in ("name", "files", "figures", "reference", "default_for")}  # fmt: skip
        folder, measured = select_artifacts()
        print(json.dumps(measured, indent=2))
        path = ship_artifacts(folder, info)
        print(json.dumps(json.loads(path.read_text())["figures"], indent=2))
        print(f"wrote {path}")
        return
    if args.src is None or args.info is None:
        ap.error(f"{args.what} needs --src and --info")
    info = json.loads(args.info.read_text())
    fn = {"artifacts": ship_artifacts, "melanoma": ship_melanoma, "gen": ship_gen}[args.what]
    path = fn(args.src, info)
    print(json.dumps(json.loads(path.read_text())["figures"], indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
