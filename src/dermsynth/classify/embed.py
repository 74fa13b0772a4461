"""Penultimate-layer embeddings of real and synthetic images (thesis Fig. 3.7).

For each image: the classifier's pre-logit features (``forward_head(pre_logits=True)``), a 3-D PCA
(sklearn) plotted coloured by class and marked by source, TensorBoard projector files
(``tensors.tsv``, ``metadata.tsv``, ``sprite.png``, ``projector_config.pbtxt``), and per-image
distances to the centroid of its class (within its source, and among the real images), so that the
survey builder can pick synthetic outliers as the thesis did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.core.io import atomic_path, atomic_write_text, read_rgb, write_png


def compute_embeddings(
    model, mean, std, image_size: int, df: pd.DataFrame, device, batch_size: int = 64
) -> np.ndarray:
    """``[N, D]`` penultimate features of ``df['path']`` (rows that fail to load are ``nan``)."""
    import torch

    from dermsynth.classify.loader import ImageTable, collate_skip_bad, make_transform
    from dermsynth.classify.models import penultimate

    ds = ImageTable(df["path"], df["label"], make_transform(image_size, mean, std, train=False))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, collate_fn=collate_skip_bad)
    model = model.to(device).eval()
    feats: np.ndarray | None = None
    with torch.no_grad():
        for batch in loader:
            if batch is None:
                continue
            x, _, idx = batch
            f = penultimate(model, x.to(device)).float().cpu().numpy()
            if feats is None:
                feats = np.full((len(df), f.shape[1]), np.nan, dtype=np.float32)
            feats[idx.numpy()] = f
    if feats is None:
        raise ValueError("no image could be read")
    return feats


def centroid_distances(emb: np.ndarray, df: pd.DataFrame) -> pd.DataFrame:
    """Euclidean distance of each image to its (source, class) centroid and to the real class centroid."""
    out = pd.DataFrame(index=df.index)
    out["dist_class_centroid"] = np.nan
    out["dist_real_class_centroid"] = np.nan
    for _key, idx in df.groupby(["source", "label"]).groups.items():
        e = emb[df.index.get_indexer(idx)]
        out.loc[idx, "dist_class_centroid"] = np.linalg.norm(e - np.nanmean(e, axis=0), axis=1)
    for c in (0, 1):
        real = (df["source"] == "real") & (df["label"] == c)
        if real.any():
            cen = np.nanmean(emb[real.to_numpy()], axis=0)
            sel = (df["label"] == c).to_numpy()
            out.loc[sel, "dist_real_class_centroid"] = np.linalg.norm(emb[sel] - cen, axis=1)
    return out


def pca3(emb: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.decomposition import PCA

    k = min(3, emb.shape[0], emb.shape[1])
    z = PCA(n_components=k, random_state=seed).fit_transform(emb)
    return np.pad(z, ((0, 0), (0, 3 - k)))


def plot_pca(
    z: np.ndarray, df: pd.DataFrame, path: Path, title: str = "Penultimate-layer embeddings (PCA)"
) -> None:
    """3-D scatter: colour = class, marker = source (thesis Fig. 3.7)."""
    from dermsynth.core.figures import pyplot, save_figure

    plt = pyplot()

    from dermsynth.core.manifest import CLASS_NAMES

    fig = plt.figure(figsize=(6, 5.5), dpi=120)
    ax = fig.add_subplot(projection="3d")
    markers = ["o", "^", "s", "D", "v", "P"]
    colours = ["tab:blue", "tab:red"]
    for si, src in enumerate(sorted(df["source"].unique())):
        for c in (0, 1):
            m = ((df["source"] == src) & (df["label"] == c)).to_numpy()
            if m.any():
                ax.scatter(
                    z[m, 0],
                    z[m, 1],
                    z[m, 2],
                    s=8,
                    alpha=0.6,
                    c=colours[c],
                    marker=markers[si % len(markers)],
                    label=f"{src} {CLASS_NAMES[c]}",
                )
    ax.set(xlabel="PC1", ylabel="PC2", zlabel="PC3", title=title)
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)


def write_projector(emb: np.ndarray, df: pd.DataFrame, out: Path, thumb: int = 32) -> None:
    """TensorBoard projector files: tensors.tsv, metadata.tsv, sprite.png, projector_config.pbtxt."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out / "tensors.tsv", "\n".join("\t".join(f"{v:.6g}" for v in row) for row in emb) + "\n"
    )
    meta = df[["image_id", "source", "label"]].copy()
    meta["class_name"] = np.where(meta["label"] == 1, "melanoma", "not_melanoma")
    with atomic_path(out / "metadata.tsv") as tmp:
        meta.to_csv(tmp, sep="\t", index=False)
    write_png(out / "sprite.png", sprite(df["path"].tolist(), thumb))
    atomic_write_text(
        out / "projector_config.pbtxt",
        (
            'embeddings {\n  tensor_path: "tensors.tsv"\n  metadata_path: "metadata.tsv"\n'
            f'  sprite {{\n    image_path: "sprite.png"\n    single_image_dim: {thumb}\n'
            f"    single_image_dim: {thumb}\n  }}\n}}\n"
        ),
    )


def sprite(paths: list[str], thumb: int) -> np.ndarray:
    """Square grid of ``thumb``-pixel thumbnails (row-major, as the projector expects); grey for bad files."""
    import cv2

    n = len(paths)
    side = max(1, math.ceil(math.sqrt(n)))
    grid = np.full((side * thumb, side * thumb, 3), 255, np.uint8)
    for i, p in enumerate(paths):
        try:
            t = cv2.resize(read_rgb(p), (thumb, thumb), interpolation=cv2.INTER_AREA)
        except ValueError:
            t = np.full((thumb, thumb, 3), 128, np.uint8)
        r, c = divmod(i, side)
        grid[r * thumb : (r + 1) * thumb, c * thumb : (c + 1) * thumb] = t
    return grid


def embed(
    model,
    mean,
    std,
    image_size: int,
    df: pd.DataFrame,
    out: str | Path,
    device,
    seed: int = 0,
    batch_size: int = 64,
) -> pd.DataFrame:
    """Embeddings + PCA figure + projector files + embeddings.csv for the rows of ``df``
    (columns ``image_id, path, label, source``). Returns the embeddings table."""
    out = Path(out)
    df = df.reset_index(drop=True)
    emb = compute_embeddings(model, mean, std, image_size, df, device, batch_size)
    ok = np.isfinite(emb).all(axis=1)
    df, emb = df[ok].reset_index(drop=True), emb[ok]
    z = pca3(emb, seed)
    table = df[["image_id", "source", "label"]].copy()
    table[["pc1", "pc2", "pc3"]] = z
    table = pd.concat([table, centroid_distances(emb, df)], axis=1)
    table["path"] = df["path"]
    with atomic_path(out / "embeddings.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "embeddings.npy") as tmp:
        np.save(tmp, emb)
    plot_pca(z, df, out / "pca.png")
    write_projector(emb, df, out / "projector")
    return table


@dataclass(frozen=True)
class EmbedConfig:
    """``dermsynth classify embed``: which images, which network, where (written beside the outputs)."""

    out: str  # output folder: embeddings.csv, embeddings.npy, pca.png, projector/
    real: tuple[str, ...] = ()  # real dataset dirs (manifest layout)
    synthetic: tuple[str, ...] = ()  # synthetic dataset dirs
    run: str | None = None  # use a trained setup of this `classify run` folder ...
    setup: str = "real"  # ... this setup
    model: str = "tf_efficientnet_lite2"  # otherwise this timm model (ImageNet features)
    weights: str = "imagenet"  # imagenet | none | checkpoint path (for `model`)
    image_size: int | None = None  # input size (None: the run's, or 260)
    per_class: int | None = None  # at most this many images per class and source
    split: str | None = None  # only rows of this split of the real dirs
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    seed: int = 0  # sampling and PCA seed


def embed_datasets(cfg: EmbedConfig) -> pd.DataFrame:
    """Embed the images of ``cfg.real`` and ``cfg.synthetic`` with a trained setup or an ImageNet model."""
    from dermsynth.classify.data import load_dataset, sample_per_class
    from dermsynth.classify.models import build_classifier
    from dermsynth.classify.trained import load_trained
    from dermsynth.core.distributed import device as pick

    if not cfg.real and not cfg.synthetic:
        raise ValueError("give at least one real or synthetic dataset dir")
    parts = []
    for kind, dirs in (("real", cfg.real), ("synthetic", cfg.synthetic)):
        for d in dirs:
            df = load_dataset(d, cfg.split if kind == "real" else None, source=kind)
            df["source"] = kind
            parts.append(sample_per_class(df, cfg.per_class, cfg.seed, f"embed|{d}"))
    df = pd.concat(parts, ignore_index=True)
    if cfg.run:
        clf, exp = load_trained(cfg.run, cfg.setup)
        size = cfg.image_size or exp.model.image_size
    else:
        clf, size = build_classifier(cfg.model, cfg.weights), cfg.image_size or 260
    return embed(clf.model, clf.mean, clf.std, size, df, cfg.out, pick(cfg.device), cfg.seed)
