"""Cleaning quality on phantom twins: PSNR / SSIM against the artifact-free twin, per method.

For each frame method on phantom images with a dermoscope frame (and hair removal on images with
hair), prints: PSNR and SSIM (skimage.metrics) of the artifact image vs the clean twin ("before") and
of the cleaned image vs the twin ("after"; for ``crop`` the twin is cropped the same way), the share of
lesion pixels changed away from the artifact (lesion pixels may change only where the artifact
covered them: the truth mask grown by 8 px), and the share of images in which the audit detects the
artifact before and after cleaning (heuristic, and the learned model with ``--model``; goal after:
<= 5%). Images are generated with ``dermsynth.data.phantom``.

    PYTHONPATH=src python benchmarks/clean_quality.py [--n 40] [--size 256] [--seed 7] [--model DIR] [--out CSV]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import pandas as pd
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dermsynth.bias import detect
from dermsynth.clean import Plan, apply_crop, clean_image, frame_mask
from dermsynth.data.phantom import render_phantom

ALL_OFF = {"dark_corner": 0.0, "hair": 0.0, "ruler": 0.0, "ink": 0.0, "gel_bubble": 0.0}


def quality(truth: np.ndarray, img: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of ``img`` against ``truth``; identical images give PSNR 100."""
    p = peak_signal_noise_ratio(truth, img, data_range=255) if not np.array_equal(truth, img) else 100.0
    return float(min(p, 100.0)), float(structural_similarity(truth, img, channel_axis=2, data_range=255))


def still_detected(imgs: list[np.ndarray], artifact: str, model) -> list[bool]:
    """Whether the audit (heuristic, or the learned model when given) still flags ``artifact``."""
    if model is None:
        return [detect(im, [artifact])[artifact].present for im in imgs]
    from dermsynth.bias.model import predict_proba

    net, meta = model
    j = meta["artifacts"].index(artifact)
    p = predict_proba(net, imgs, meta["image_size"], tta=meta.get("tta", False))[:, j]
    return list(p >= meta["thresholds"][artifact])


def run_method(samples, method: str, artifact: str, model) -> dict:
    """Quality of one method over samples carrying ``artifact``."""
    rows, outs, t0 = [], [], time.perf_counter()
    for s in samples:
        plan = Plan(None, True) if method == "hair" else Plan(method, False)
        out, changed = clean_image(s.image, plan, seed=s.index)
        twin = s.clean
        if method == "crop":
            twin = apply_crop(s.clean, frame_mask(s.image))
        grown = cv2.dilate(s.artifact_masks[artifact].astype(np.uint8), np.ones((17, 17), np.uint8)).astype(
            bool
        )
        lesion_off = (changed & s.lesion_mask & ~grown).sum() / max(1, s.lesion_mask.sum())
        rows.append((*quality(s.clean, s.image), *quality(twin, out), lesion_off))
        outs.append(out)
    sec = (time.perf_counter() - t0) / len(samples)
    r = np.array(rows)
    before = [s.image for s in samples]
    det = {
        "heuristic": (
            np.mean(still_detected(before, artifact, None)),
            np.mean(still_detected(outs, artifact, None)),
        )
    }
    if model is not None and artifact in model[1]["artifacts"]:
        det["model"] = (
            np.mean(still_detected(before, artifact, model)),
            np.mean(still_detected(outs, artifact, model)),
        )
    return {
        "artifact": artifact,
        "method": method,
        "n": len(samples),
        "psnr_before": r[:, 0].mean(),
        "psnr_after": r[:, 2].mean(),
        "ssim_before": r[:, 1].mean(),
        "ssim_after": r[:, 3].mean(),
        "lesion_changed_off_artifact": r[:, 4].mean(),
        **{f"{k}_det_before": v[0] for k, v in det.items()},
        **{f"{k}_det_after": v[1] for k, v in det.items()},
        "s_per_image": sec,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--fsr-best-n", type=int, default=5, help="FSR_BEST is slow: images for it")
    ap.add_argument("--model", default=None, help="audit with this learned model instead of the heuristics")
    ap.add_argument("--out", default=None, help="write the table as csv")
    ap.add_argument("--methods", default="crop,skin-inpaint,fsr,telea,ns,fsr-best,hair", help="comma list")
    args = ap.parse_args()
    model = None
    if args.model:
        from dermsynth.bias.model import load_model

        model = load_model(args.model)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    frame_rates = {**ALL_OFF, "dark_corner": 1.0}
    hair_rates = {**ALL_OFF, "hair": 1.0}
    frames = [render_phantom(i, args.seed, args.size, rates=frame_rates) for i in range(args.n)]
    hairs = [render_phantom(i, args.seed + 1, args.size, rates=hair_rates) for i in range(args.n)]
    res = []
    for m in methods:
        if m == "hair":
            res.append(run_method(hairs, "hair", "hair", model))
        else:
            subset = frames[: args.fsr_best_n] if m == "fsr-best" else frames
            res.append(run_method(subset, m, "dark_corner", model))
    table = pd.DataFrame(res)
    pd.set_option("display.width", 200)
    print(
        f"phantom seed {args.seed} (hair: seed {args.seed + 1}), {args.size} px, audit: {args.model or 'heuristic'}"
    )
    print(table.round(3).to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
