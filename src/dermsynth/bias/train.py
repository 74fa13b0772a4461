"""Training the learned artifact classifier (``dermsynth bias train``).

Setup: annotated images (``bias.data``); images of the ``val``/``test`` splits are never used (they
are what results are reported on); a seeded ``holdout`` fraction of the rest chooses the epoch, the
per-label thresholds (max F1, ``evaluate.best_threshold``) and, per artifact, whether the model or the
heuristic detector decides (``bias.select``: the heuristic's threshold tuned on every annotated training
image, the choice by cross-validated F1 on the holdout, so that it transfers to unseen images; a detector
below ``bias.select.MIN_F1`` there leaves the default audit, ``excluded`` in ``model.json``). Loss: binary
cross-entropy over the labels. Training state is saved after every epoch (``training-state.pt``, state
dicts only) and a rerun of the same command resumes from it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.bias.data import EVAL_SPLITS, annotated_images, holdout_split
from dermsynth.bias.evaluate import best_threshold
from dermsynth.bias.model import build_model, predict_batch, resize_square, save_model, to_tensor
from dermsynth.bias.registry import DETECTORS, scores
from dermsynth.bias.select import MIN_F1, choose_source, excluded_artifacts
from dermsynth.core.io import atomic_path, read_rgb
from dermsynth.core.seeding import derive_seed, torch_generator
from dermsynth.core.stats import StatsWriter

STATE_FILE = "training-state.pt"


@dataclass(frozen=True)
class ArtifactTrainConfig:
    """Options of ``dermsynth bias train`` (defaults: CPU in minutes at 128 px)."""

    model: str = "tf_efficientnet_lite0"
    weights: str | None = "imagenet"  # 'imagenet', a local checkpoint path, or None (from scratch)
    size: int = 128
    epochs: int = 8
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    holdout: float = 0.15
    seed: int = 0
    tta: bool = True  # average over flips / rotations when predicting (holdout and audit alike)
    device: str = "auto"


@dataclass
class Prepared:
    """Images loaded at the training size, labels and the train / holdout split."""

    table: pd.DataFrame
    artifacts: list[str]
    images: np.ndarray  # uint8 [N, S, S, 3]
    labels: np.ndarray  # float32 [N, A]
    hold: np.ndarray  # bool [N]


def prepare(directory, truth, cfg: ArtifactTrainConfig, on_image=None) -> Prepared:
    """Load annotated images of the training splits at ``cfg.size``; skip unreadable ones."""
    table = annotated_images(directory, truth)
    table = table[~table["split"].str.lower().isin(EVAL_SPLITS)]
    artifacts = [a for a in DETECTORS if a in table.columns and 0 < table[a].sum() < len(table)]
    if not artifacts:
        raise ValueError(f"{directory}: no artifact has both positive and negative training images")
    images, keep = [], []
    for image_id, path in zip(table.index, table["path"], strict=True):
        try:
            images.append(resize_square(read_rgb(path), cfg.size))
            keep.append(image_id)
        except ValueError as e:
            print(f"skipped: {e}")
        if on_image:
            on_image()
    table = table.loc[keep]
    hold = holdout_split(list(table.index), cfg.holdout, cfg.seed)
    if hold.sum() == 0 or (~hold).sum() == 0:
        raise ValueError(f"too few images ({len(table)}) for a {cfg.holdout:.0%} holdout")
    labels = table[artifacts].to_numpy(np.float32)
    return Prepared(table, artifacts, np.stack(images), labels, hold)


def augment(x, gen):
    """Random flips and 90-degree rotations of a batch [N, 3, S, S] (dermoscopy has no up)."""
    import torch

    if torch.rand((), generator=gen) < 0.5:
        x = x.flip(3)
    if torch.rand((), generator=gen) < 0.5:
        x = x.flip(2)
    k = int(torch.randint(0, 4, (), generator=gen))
    return torch.rot90(x, k, (2, 3)) if k else x


def train_epoch(model, opt, sched, prep: Prepared, cfg: ArtifactTrainConfig, epoch: int, dev) -> float:
    """One pass over the training part in seeded random order; returns the mean loss."""
    import torch

    gen = torch_generator(cfg.seed, "bias-train", epoch)
    idx = np.flatnonzero(~prep.hold)
    order = idx[torch.randperm(len(idx), generator=gen).numpy()]
    model.train()
    losses = []
    for s in range(0, len(order), cfg.batch_size):
        b = order[s : s + cfg.batch_size]
        x = augment(to_tensor(prep.images[b]), gen).to(dev)
        y = torch.from_numpy(prep.labels[b]).to(dev)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def predict_holdout(model, prep: Prepared, cfg: ArtifactTrainConfig, dev) -> np.ndarray:
    """Probabilities [n_holdout, A] on the holdout images (with the same TTA as inference)."""
    model.eval()
    idx = np.flatnonzero(prep.hold)
    chunks = [
        predict_batch(model, prep.images[idx[s : s + 128]], cfg.tta, dev) for s in range(0, len(idx), 128)
    ]
    return np.concatenate(chunks)


def holdout_f1(truth: np.ndarray, prob: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-label (threshold, F1) chosen on the holdout."""
    pairs = [best_threshold(truth[:, j], prob[:, j]) for j in range(truth.shape[1])]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def heuristic_scores(prep: Prepared) -> np.ndarray:
    """The classical detectors' scores [N, A] on every training image (full resolution)."""
    rows = [scores(read_rgb(p), prep.artifacts) for p in prep.table["path"]]
    return np.array([[r[a] for a in prep.artifacts] for r in rows], float)


def select_sources(prep: Prepared, prob_hold: np.ndarray, heur: np.ndarray, seed: int = 0) -> dict:
    """Per artifact, model or heuristic and its threshold, chosen to transfer (``bias.select``)."""
    return {
        a: choose_source(prep.labels[:, j], heur[:, j], prep.hold, prob_hold[:, j], seed=seed)
        for j, a in enumerate(prep.artifacts)
    }


def _save_state(path: Path, model, opt, sched, epoch: int, best: dict, cfg: ArtifactTrainConfig) -> None:
    import torch

    state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}
    with atomic_path(path) as tmp:
        torch.save({**state, "epoch": epoch, "best": best, "config": json.dumps(asdict(cfg))}, tmp)


def _setup(prep: Prepared, cfg: ArtifactTrainConfig, out_dir: Path):
    import torch

    from dermsynth.core import distributed

    torch.manual_seed(derive_seed(cfg.seed, "bias-init"))
    dev = distributed.device(cfg.device)
    model, info = build_model(cfg.model, len(prep.artifacts), cfg.weights)
    model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * int(np.ceil((~prep.hold).sum() / cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(steps, 1), pct_start=0.15)
    start, best = 0, {"score": -1.0, "epoch": -1, "state": None}
    state_path = out_dir / STATE_FILE
    if state_path.is_file():
        st = torch.load(state_path, map_location=dev, weights_only=True)
        if st.get("config") != json.dumps(asdict(cfg)):
            raise ValueError(
                f"{state_path}: training state of a different configuration ({st.get('config')}); "
                "rerun with the same options to resume, or use another --out"
            )
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        start, best = int(st["epoch"]) + 1, st["best"]
    return model, info, opt, sched, dev, start, best


def train_classifier(
    directory: str | os.PathLike,
    out_dir: str | os.PathLike,
    truth: str | os.PathLike | None = None,
    cfg: ArtifactTrainConfig = ArtifactTrainConfig(),
    on_image=None,
    on_epoch=None,
) -> Path:
    """Train, choose thresholds on the holdout, export ``model.safetensors`` + ``model.json``."""
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prep = prepare(directory, truth, cfg, on_image)
    model, info, opt, sched, dev, start, best = _setup(prep, cfg, out_dir)
    stats = StatsWriter(out_dir / "stats.jsonl")
    truth_h = prep.labels[prep.hold]
    for epoch in range(start, cfg.epochs):
        loss = train_epoch(model, opt, sched, prep, cfg, epoch, dev)
        _, f1 = holdout_f1(truth_h, predict_holdout(model, prep, cfg, dev))
        mean_f1 = float(np.mean(f1))
        if mean_f1 > best["score"]:
            sd = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            best = {"score": mean_f1, "epoch": epoch, "state": sd}
        stats.report("bias/loss", loss)
        stats.report("bias/holdout_mean_f1", mean_f1)
        stats.flush(epoch=epoch)
        _save_state(out_dir / STATE_FILE, model, opt, sched, epoch, best, cfg)
        if on_epoch:
            on_epoch(epoch, loss, mean_f1)
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    prob_hold = predict_holdout(model, prep, cfg, dev)
    thresholds, f1 = holdout_f1(truth_h, prob_hold)
    sel = select_sources(prep, prob_hold, heuristic_scores(prep), cfg.seed)
    meta = {
        "model": cfg.model,
        "weights": info.shippable(),
        "artifacts": prep.artifacts,
        "image_size": cfg.size,
        "tta": cfg.tta,
        "thresholds": dict(zip(prep.artifacts, thresholds, strict=True)),
        "holdout_f1": dict(zip(prep.artifacts, f1, strict=True)),
        # the heuristic's threshold: max F1 over every annotated training image; f1: cross-validated
        "heuristic": {
            a: {"threshold": c.heuristic_threshold, "f1": c.cv_f1_heuristic} for a, c in sel.items()
        },
        "choice": {a: c.source for a, c in sel.items()},
        "selection": {a: c.as_dict() for a, c in sel.items()},
        # detectors that leave the default audit (`best`) until one passes (bias.select.MIN_F1)
        "excluded": excluded_artifacts(sel),
        "min_f1": MIN_F1,
        "best_epoch": int(best["epoch"]),
        "n_train": int((~prep.hold).sum()),
        "n_holdout": int(prep.hold.sum()),
        "config": asdict(cfg),
        # names, not paths of the training machine: the model.json ships
        "source": {"directory": Path(directory).name, "truth": Path(truth).name if truth else None},
    }
    model.to(torch.device("cpu"))
    return save_model(model, meta, out_dir)
