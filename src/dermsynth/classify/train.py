"""Training one setup: setup, one epoch, validation + early stopping, resumable state.

Binary cross-entropy on one logit, AdamW, class-balanced sampling, bfloat16 autocast on CUDA, DDP
under torchrun (``dermsynth.core.distributed``). Early stopping keeps the weights with the best
validation AUC (thesis: the model was selected on the validation set, never on test).

State: ``SETUP_DIR/state.pt`` (a dict of tensors and numbers, loaded with ``weights_only=True``) is
written atomically after every epoch; rerunning the same command continues from the last finished
epoch, with the same sampling stream (seeded by epoch).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dermsynth.classify.experiment import ClassifierTrainConfig, ModelConfig
from dermsynth.classify.loader import (
    ImageTable,
    balanced_indices,
    make_transform,
    predict_scores,
    train_loader,
)
from dermsynth.classify.metrics import auc
from dermsynth.classify.models import Classifier, build_classifier
from dermsynth.core import distributed as dist
from dermsynth.core.io import atomic_path
from dermsynth.core.stats import StatsWriter


@dataclass
class TrainState:
    epoch: int = 0  # epochs finished
    best_metric: float = -math.inf
    best_epoch: int = -1
    since_best: int = 0
    stopped: bool = False
    history: list = field(default_factory=list)


def save_state(path: Path, model, opt, st: TrainState, best_model: dict, key: str) -> None:
    """Write the training state atomically (main rank only)."""
    if not dist.is_main():
        return
    payload = {
        "key": key,
        "model": _plain(model).state_dict(),
        "optimizer": opt.state_dict(),
        "best_model": best_model,
        "epoch": st.epoch,
        "best_metric": st.best_metric,
        "best_epoch": st.best_epoch,
        "since_best": st.since_best,
        "stopped": st.stopped,
        "history": st.history,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_state(path: Path, model, opt, key: str) -> tuple[TrainState, dict] | None:
    """Restore model/optimizer from ``path``; ``None`` when absent. A state from another config is an error."""
    if not path.is_file():
        return None
    d = torch.load(path, map_location="cpu", weights_only=True)
    if d.get("key") != key:
        raise ValueError(
            f"{path}: training state belongs to a different configuration of this setup; "
            "use a new --out directory or delete the setup's folder"
        )
    _plain(model).load_state_dict(d["model"])
    opt.load_state_dict(d["optimizer"])
    st = TrainState(
        d["epoch"], d["best_metric"], d["best_epoch"], d["since_best"], d["stopped"], d["history"]
    )
    return st, d["best_model"]


def _plain(model):
    return getattr(model, "module", model)


def _clone_state(model) -> dict:
    return {k: v.detach().cpu().clone() for k, v in _plain(model).state_dict().items()}


def freeze_backbone(model) -> list:
    """Freeze everything but the classifier head; returns the head's parameters."""
    head = model.get_classifier() if hasattr(model, "get_classifier") else model.classifier
    for p in model.parameters():
        p.requires_grad_(False)
    params = list(head.parameters())
    for p in params:
        p.requires_grad_(True)
    return params


def train_epoch(model, loader, opt, device, amp: bool, frozen: bool = False) -> tuple[float, int]:
    """One pass over ``loader``: mean BCE loss and number of images seen (frozen: BN stats kept)."""
    model.train(not frozen)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    total, seen = 0.0, 0
    use_amp = amp and device.type == "cuda"
    for batch in loader:
        if batch is None:
            continue
        x, y, _ = batch
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            logit = model(x).float().reshape(-1)
        loss = loss_fn(logit, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(y)
        seen += len(y)
    return total / max(seen, 1), seen


def epoch_lr(cfg: ClassifierTrainConfig, epoch: int) -> float:
    """Learning rate of ``epoch`` (0-based): constant, or a half cosine from ``lr`` to 0 over ``epochs``."""
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if cfg.lr_schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / max(cfg.epochs, 1)))
    raise ValueError(f"train.lr_schedule: {cfg.lr_schedule!r} is not one of constant, cosine")


def validation_metric(labels: np.ndarray, scores: np.ndarray) -> float:
    """Validation AUC (images that failed to load are left out); ``-inf`` when undefined."""
    ok = np.isfinite(scores)
    if ok.sum() == 0 or len(np.unique(labels[ok])) < 2:
        return -math.inf
    return auc(labels[ok], scores[ok])


def train_setup(
    train_df: pd.DataFrame,
    val_df: pd.DataFrame,
    model_cfg: ModelConfig,
    train_cfg: ClassifierTrainConfig,
    out_dir: Path,
    seed: int,
    device,
    key: str,
    log=print,
) -> tuple[Classifier, TrainState]:
    """Train on ``train_df`` with early stopping on ``val_df`` AUC; returns the best model."""
    torch.manual_seed(seed)
    clf = build_classifier(model_cfg.name, model_cfg.weights)
    model = clf.model.to(device)
    params = freeze_backbone(model) if train_cfg.freeze_backbone else list(model.parameters())
    opt = torch.optim.AdamW(params, lr=train_cfg.lr, weight_decay=train_cfg.weight_decay)
    state_path = out_dir / "state.pt"
    restored = load_state(state_path, model, opt, key)
    st, best = restored if restored else (TrainState(), _clone_state(model))
    if restored:
        log(f"resuming after epoch {st.epoch} (best val AUC {st.best_metric:.4f} at epoch {st.best_epoch})")
    if dist.world_size() > 1:
        ids = [device.index] if device.type == "cuda" else None
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    size = model_cfg.image_size
    tr = ImageTable(
        train_df["path"], train_df["label"], make_transform(size, clf.mean, clf.std, True, train_cfg.augment)
    )
    va = ImageTable(val_df["path"], val_df["label"], make_transform(size, clf.mean, clf.std, False))
    labels = train_df["label"].to_numpy().astype(int)
    n_epoch = train_cfg.samples_per_epoch or len(train_df)
    stats = StatsWriter(out_dir / "stats.jsonl" if dist.is_main() else None)
    while st.epoch < train_cfg.epochs and not st.stopped:
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = epoch_lr(train_cfg, st.epoch)
        idx = balanced_indices(labels, n_epoch, seed, st.epoch, train_cfg.balance, key)
        loss, seen = train_epoch(
            model,
            train_loader(tr, idx, train_cfg.batch_size, train_cfg.workers),
            opt,
            device,
            train_cfg.amp,
            train_cfg.freeze_backbone,
        )
        vs = predict_scores(model, va, train_cfg.eval_batch_size, device, train_cfg.workers, train_cfg.amp)
        metric = validation_metric(val_df["label"].to_numpy(), vs)
        st.epoch += 1
        if metric > st.best_metric:
            st.best_metric, st.best_epoch, st.since_best = metric, st.epoch, 0
            best = _clone_state(model)
        else:
            st.since_best += 1
            st.stopped = st.since_best >= train_cfg.patience
        dt = time.time() - t0
        row = stats.flush(
            epoch=st.epoch,
            train_loss=loss,
            val_auc=metric,
            images=seen * dist.world_size(),
            seconds=dt,
            images_per_s=seen * dist.world_size() / max(dt, 1e-9),
        )
        st.history.append({k: v for k, v in row.items() if isinstance(v, int | float)})
        log(
            f"epoch {st.epoch}: loss {loss:.4f}  val AUC {metric:.4f}  ({dt:.1f}s)"
            + ("  early stop" if st.stopped else "")
        )
        save_state(state_path, model, opt, st, best, key)
    _plain(model).load_state_dict(best)
    clf.model = _plain(model)
    return clf, st
