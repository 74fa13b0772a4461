"""Analysis of a reader study (thesis Sec. 4.4: Tables 4.3/4.4, Figs. 4.11-4.16) plus what the thesis
could not state: an exact binomial test of each reader against chance, a pooled accuracy with
confidence intervals, and Fleiss' kappa between readers.

Positive class = synthetic (as in the thesis): TP = synthetic image called synthetic, FP = real image
called synthetic, FN = synthetic called real, TN = real called real. Accuracy (TP+TN)/N, sensitivity
TP/(TP+FN), specificity TN/(TN+FP), precision TP/(TP+FP). Dermatologist 1 of Table 4.3 (70, 33, 35, 62)
gives 0.66, 0.67, 0.65, 0.68 as in Table 4.4.

Pooled accuracy, two ways (documented in docs/survey.md): (a) the mean of per-reader accuracies with
a Student-t interval over readers (readers as the unit; images fixed), and (b) a two-way cluster
bootstrap that resamples readers and images with replacement (both as random effects; percentile
interval) — a GLMM-free way to respect that answers cluster by reader and by image. Intervals of
proportions are clipped to [0, 1] (a t interval near 1 otherwise runs past it).

Completeness: a reader who answered fewer than ``min_complete`` (default: all) of the stimuli is
listed in ``incomplete_readers.csv`` and left out of every table unless ``keep_incomplete``; Fleiss'
kappa always uses the complete readers only, on the images all of them answered, and says how many.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.core.io import atomic_path, atomic_write_text
from dermsynth.survey.kappa import count_table, fleiss_kappa
from dermsynth.survey.responses import BACKGROUNDS, join, read_responses, read_stimuli_table

READER_COLUMNS = [
    "reader_id",
    "background",
    "TP",
    "FP",
    "FN",
    "TN",
    "accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "note",
]


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


#: Why a rate of a reader can be undefined (the denominator is 0): written in ``readers.csv``'s ``note``.
UNDEFINED_RATE = {
    "sensitivity": "sensitivity undefined: no synthetic image answered (TP + FN = 0)",
    "specificity": "specificity undefined: no real image answered (TN + FP = 0)",
    "precision": "precision undefined: never answered 'synthetic' (TP + FP = 0)",
}


def rate_note(r: dict) -> str:
    """The reasons, joined by '; ', why some rates of ``r`` are undefined ('' if all are defined)."""
    return "; ".join(why for k, why in UNDEFINED_RATE.items() if _isnan(r.get(k)))


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def json_safe(obj, notes: dict[str, str], path: str = "", why: str | None = None):
    """``obj`` with every non-finite float replaced by None (strict JSON has no NaN); each replaced
    value's dotted path goes into ``notes`` with the reason: the ``note`` of the dict holding it, or
    ``why``, or a generic one."""
    if isinstance(obj, dict):
        here = obj.get("note") if isinstance(obj.get("note"), str) else why
        return {k: json_safe(v, notes, f"{path}.{k}" if path else str(k), here) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v, notes, f"{path}[{i}]", why) for i, v in enumerate(obj)]
    if isinstance(obj, float | np.floating) and not math.isfinite(float(obj)):
        notes[path] = why or "undefined (a denominator is 0)"
        return None
    return obj


def rates(tp: int, fp: int, fn: int, tn: int) -> dict[str, float]:
    """Accuracy, sensitivity, specificity, precision of a 2x2 confusion (nan where undefined)."""
    return {
        "accuracy": _div(tp + tn, tp + fp + fn + tn),
        "sensitivity": _div(tp, tp + fn),
        "specificity": _div(tn, tn + fp),
        "precision": _div(tp, tp + fp),
    }


def confusion(truth: pd.Series, said: pd.Series) -> dict[str, int]:
    t, s = truth.astype(bool).to_numpy(), said.astype(bool).to_numpy()
    return {
        "TP": int((t & s).sum()),
        "FP": int((~t & s).sum()),
        "FN": int((t & ~s).sum()),
        "TN": int((~t & ~s).sum()),
    }


def _bg_order(bg: str) -> int:
    keys = list(BACKGROUNDS)
    return keys.index(bg) if bg in keys else len(keys)


def reader_table(df: pd.DataFrame) -> pd.DataFrame:
    """Thesis Tables 4.3 + 4.4: one row per reader (positive class = synthetic)."""
    rows = []
    for (reader, bg), g in df.groupby(["reader_id", "background"], sort=False):
        c = confusion(g["is_synthetic"], g["said_synthetic"])
        r = rates(**{k.lower(): v for k, v in c.items()})
        rows.append({"reader_id": reader, "background": bg, **c, **r, "note": rate_note(r)})
    out = pd.DataFrame(rows, columns=READER_COLUMNS)
    key = out["background"].map(_bg_order)
    return (
        out.assign(_k=key)
        .sort_values(["_k", "reader_id"], kind="stable")
        .drop(columns="_k")
        .reset_index(drop=True)
    )


def reader_chance_tests(readers: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Exact two-sided binomial test of each reader's accuracy against 0.5, with a Clopper-Pearson CI."""
    from scipy.stats import binomtest

    rows = []
    for r in readers.itertuples():
        n = r.TP + r.FP + r.FN + r.TN
        k = r.TP + r.TN
        t = binomtest(int(k), int(n), 0.5)
        ci = t.proportion_ci(level, method="exact")
        rows.append(
            {
                "reader_id": r.reader_id,
                "background": r.background,
                "n": n,
                "correct": k,
                "accuracy": _div(k, n),
                "ci_low": float(ci.low),
                "ci_high": float(ci.high),
                "p_value": float(t.pvalue),
            }
        )
    return pd.DataFrame(rows)


def pooled_t(accuracies: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Mean of per-reader accuracies with a Student-t interval over readers."""
    from scipy.stats import t as student_t

    a = np.asarray(accuracies, dtype=float)
    a = a[~np.isnan(a)]
    m = float(a.mean()) if len(a) else float("nan")
    if len(a) < 2:
        why = "no reader" if not len(a) else "one reader: no interval over readers"
        return {"mean": m, "ci_low": float("nan"), "ci_high": float("nan"), "readers": len(a), "note": why}
    half = float(student_t.ppf(0.5 + level / 2, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a)))
    # a proportion lies in [0, 1]: the symmetric t interval is clipped there
    return {"mean": m, "ci_low": max(0.0, m - half), "ci_high": min(1.0, m + half), "readers": len(a)}


def cluster_bootstrap(df: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Two-way (reader x image) cluster bootstrap of the pooled accuracy; percentile interval."""
    correct = df.pivot(index="reader_id", columns="image_id", values="correct").astype(float)
    c = correct.to_numpy()
    mask = ~np.isnan(c)
    c = np.nan_to_num(c)
    g = np.random.default_rng(seed)
    n_r, n_i = c.shape
    wr = g.multinomial(n_r, np.full(n_r, 1 / n_r), size=n_boot).astype(float)  # [B, R] reader weights
    wi = g.multinomial(n_i, np.full(n_i, 1 / n_i), size=n_boot).astype(float)  # [B, I] image weights
    num = np.einsum("br,ri,bi->b", wr, c, wi)
    den = np.einsum("br,ri,bi->b", wr, mask.astype(float), wi)
    est = num[den > 0] / den[den > 0]
    lo, hi = np.quantile(est, [(1 - level) / 2, 0.5 + level / 2])
    return {
        "estimate": float(c.sum() / mask.sum()),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "n_boot": n_boot,
    }


def image_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per image: readers, correct real/synthetic answers (Fig. 4.11), mean certainty (Fig. 4.15)."""
    g = df.groupby("image_id")
    out = pd.DataFrame(
        {
            "source": g["source"].first(),
            "label": g["label"].first(),
            "n_readers": g.size(),
            "n_correct": g["correct"].sum().astype(int),
            "n_said_synthetic": g["said_synthetic"].sum().astype(int),
            "mean_certainty": g["certainty"].mean().astype(float),
        }
    )
    out["frac_correct"] = out["n_correct"] / out["n_readers"]
    return out.reset_index().sort_values(["source", "frac_correct", "image_id"]).reset_index(drop=True)


def unanimous(images: pd.DataFrame) -> pd.DataFrame:
    """Images on which every reader agreed (thesis Figs. 4.12-4.14): fooled all or caught by all."""
    groups = {
        "synthetic_fooled_all": (images["source"] == "synthetic") & (images["n_said_synthetic"] == 0),
        "synthetic_caught_by_all": (images["source"] == "synthetic")
        & (images["n_correct"] == images["n_readers"]),
        "real_called_synthetic_by_all": (images["source"] == "real") & (images["n_correct"] == 0),
        "real_recognised_by_all": (images["source"] == "real") & (images["n_correct"] == images["n_readers"]),
    }
    parts = [images.loc[m, ["image_id", "source", "label"]].assign(group=name) for name, m in groups.items()]
    return pd.concat(parts, ignore_index=True)


def diagnosis_confusion(df: pd.DataFrame) -> pd.DataFrame:
    """Fig. 4.16: diagnosis confusion (positive = melanoma) on real vs synthetic images, per background
    and over all readers. Rows without a diagnosis are left out."""
    d = df[df["diagnosis"].notna()]
    rows = []
    for bg, gb in [("all", d), *d.groupby("background", sort=False)]:
        for source in ("real", "synthetic"):
            g = gb[gb["source"] == source]
            c = confusion(g["label"] == "melanoma", g["diagnosis"] == "melanoma")
            rows.append(
                {"background": bg, "source": source, **c, **rates(**{k.lower(): v for k, v in c.items()})}
            )
    return pd.DataFrame(rows)


def completeness(df: pd.DataFrame, n_stimuli: int, min_complete: float = 1.0) -> pd.DataFrame:
    """Per reader: answered, of, fraction and ``complete`` (answered >= ceil(min_complete * of))."""
    if not 0.0 < min_complete <= 1.0:
        raise ValueError(f"--min-complete must be in (0, 1], got {min_complete}")
    need = math.ceil(min_complete * n_stimuli - 1e-9)
    counts = df.groupby("reader_id", sort=False)["image_id"].nunique()
    return pd.DataFrame(
        {
            "reader_id": counts.index,
            "answered": counts.to_numpy(),
            "of": n_stimuli,
            "fraction": counts.to_numpy() / max(n_stimuli, 1),
            "complete": counts.to_numpy() >= need,
        }
    )


def agreement(df: pd.DataFrame) -> dict:
    """Fleiss' kappa between the readers of ``df`` (pass the complete readers) for 'synthetic?' and for
    the diagnosis, on the images every one of them answered; ``images`` says how many that is."""
    out = {}
    for name, col, cats in (
        ("synthetic", "said_synthetic", [True, False]),
        ("diagnosis", "diagnosis", ["melanoma", "not_melanoma"]),
    ):
        d = df[df[col].notna()]
        wide = d.pivot(index="image_id", columns="reader_id", values=col)
        complete = wide.dropna(axis=0)
        if complete.shape[1] < 2 or complete.empty:
            out[name] = {
                "kappa": float("nan"),
                "images": int(len(complete)),
                "readers": int(complete.shape[1]),
                "note": "kappa undefined: fewer than 2 complete readers or no image all of them answered",
            }
            continue
        kappa = fleiss_kappa(count_table(complete.to_numpy(), cats))
        out[name] = {"kappa": kappa, "images": int(len(complete)), "readers": int(complete.shape[1])}
        if math.isnan(kappa):
            out[name]["note"] = "kappa undefined: every answer fell in one category (chance agreement 1)"
    return out


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def _markdown(readers: pd.DataFrame) -> str:
    lines = [
        "| reader | background | TP | FP | FN | TN | accuracy | sensitivity | specificity | precision |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for r in readers.itertuples():
        f = [_fmt_rate(v) for v in (r.accuracy, r.sensitivity, r.specificity, r.precision)]
        mark = f" [{len(notes) + 1}]" if r.note else ""
        lines.append(
            f"| {r.reader_id}{mark} | {r.background} | {r.TP} | {r.FP} | {r.FN} | {r.TN} | {' | '.join(f)} |"
        )
        if r.note:
            notes.append(f"[{len(notes) + 1}] {r.reader_id}: {r.note}.")
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def _fmt_rate(v: float) -> str:
    return "n/a" if _isnan(float(v)) else f"{v:.2f}"


@dataclass(frozen=True)
class AnalyzeConfig:
    """``dermsynth survey analyze`` in the pipeline (it runs when ``responses`` is given)."""

    responses: str | None = None  # responses.csv of the reader study (app export or typed in)
    n_boot: int = 2000  # cluster-bootstrap resamples


def analyze(
    responses: str | Path,
    stimuli: str | Path,
    out: str | Path,
    images_dir: str | Path | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    min_complete: float = 1.0,
    keep_incomplete: bool = False,
) -> dict:
    """Write tables, figures and ``summary.json`` to ``out``; return the summary."""
    from dermsynth.survey import figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stim = read_stimuli_table(stimuli)
    df_all = join(read_responses(responses), stim, responses)
    comp = completeness(df_all, len(stim), min_complete)
    complete_ids = set(comp.loc[comp["complete"], "reader_id"])
    incomplete = comp[~comp["complete"]]
    _write_csv(incomplete, out / "incomplete_readers.csv")
    df = df_all if keep_incomplete else df_all[df_all["reader_id"].isin(complete_ids)]
    if df.empty:
        raise ValueError(
            f"{responses}: no reader answered at least {min_complete:.0%} of the {len(stim)} stimuli "
            f"({len(incomplete)} incomplete readers, listed in {out / 'incomplete_readers.csv'}); "
            "use --keep-incomplete or a lower --min-complete"
        )
    readers = reader_table(df)
    tests = reader_chance_tests(readers)
    images = image_table(df)
    agree = unanimous(images)
    diag = diagnosis_confusion(df)
    _write_csv(readers, out / "readers.csv")
    _write_csv(tests, out / "reader_tests.csv")
    _write_csv(images, out / "images.csv")
    _write_csv(agree, out / "unanimous.csv")
    _write_csv(diag, out / "diagnosis_confusion.csv")
    atomic_write_text(out / "readers.md", _markdown(readers))
    pooled = {
        "mean_of_readers_t": pooled_t(readers["accuracy"].to_numpy()),
        "cluster_bootstrap": cluster_bootstrap(df, n_boot, seed),
    }
    by_bg = {bg: pooled_t(g["accuracy"].to_numpy()) for bg, g in readers.groupby("background", sort=False)}
    summary = {
        "responses": len(df),
        "readers": len(readers),
        "images": len(images),
        "completeness": {
            "min_complete": min_complete,
            "stimuli": len(stim),
            "complete_readers": len(complete_ids),
            "incomplete_readers": [
                {"reader_id": r.reader_id, "answered": int(r.answered), "of": int(r.of)}
                for r in incomplete.itertuples()
            ],
            "incomplete_included": bool(keep_incomplete),
        },
        "pooled_accuracy": pooled,
        "pooled_accuracy_by_background": by_bg,
        "readers_above_chance_p05": int(((tests["p_value"] < 0.05) & (tests["accuracy"] > 0.5)).sum()),
        "fleiss_kappa": agreement(df_all[df_all["reader_id"].isin(complete_ids)]),
        "unanimous": agree.groupby("group").size().to_dict(),
        "figures": figures.write_all(df, images, agree, diag, out, images_dir),
    }
    notes: dict[str, str] = {}
    summary = json_safe(summary, notes)
    summary["undefined"] = notes  # every null above: where, and why
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return summary
