"""``dermsynth classify run``: one experiment file -> per-setup predictions, table.csv, roc.png.

RUN/
  config.json                      the resolved experiment
  data/{train_real,val,test}.csv   the real splits used (paths, labels)
  setups/NAME/train_set.csv        images the setup trained on
  setups/NAME/state.pt             resumable training state (weights_only)
  setups/NAME/stats.jsonl          per-epoch loss / val AUC / speed
  setups/NAME/predictions.csv      image_id, label, score, split (val, test), weights
  setups/NAME/shortcut.json        frame shortcut test (when the test set has dark_corner)
  setups/NAME/done.json            written last; a setup with it is skipped on rerun
  table.csv, results.json, roc.png, shortcut.csv (when the test set has frame labels): classify.results
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pandas as pd

from dermsynth.classify.data import balanced_val, check_disjoint, load_real_parts
from dermsynth.classify.experiment import Experiment
from dermsynth.classify.results import ROC_PNG, json_safe, write_results
from dermsynth.classify.roc import plot_roc
from dermsynth.classify.sources import load_source
from dermsynth.core import distributed as dist
from dermsynth.core.config import save_config
from dermsynth.core.io import atomic_path, atomic_write_json, sha256_json


def load_real(exp: Experiment) -> dict[str, pd.DataFrame]:
    """The real train / val / test rows, checked disjoint (images, patients); val sampled per Table 3.1."""
    parts = load_real_parts(exp.data["real"], Path(exp.base_dir), exp.seed)
    check_disjoint(parts)
    parts["val"] = balanced_val(parts["val"], exp.sizes.val_total, exp.sizes.val_balanced, exp.seed)
    return parts


def setup_key(exp: Experiment, name: str) -> str:
    """Hash of everything that determines a setup's training (a changed config is never resumed)."""
    spec = next(s for s in exp.setups if s.name == name)
    d = exp.as_dict()
    return sha256_json(
        {
            "setup": d["setups"][exp.setups.index(spec)],
            "model": d["model"],
            "train": d["train"],
            "sizes": d["sizes"],
            "seed": exp.seed,
            "data": d["data"],
        }
    )[:16]


def write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def run_setup(
    exp: Experiment,
    name: str,
    pools: dict[str, pd.DataFrame],
    real: dict[str, pd.DataFrame],
    out: Path,
    device,
    log=print,
) -> pd.DataFrame:
    """Train one setup (resumable) and write its predictions; returns them."""
    from dermsynth.classify.loader import ImageTable, make_transform, predict_scores
    from dermsynth.classify.setups import build_training_set
    from dermsynth.classify.shortcut import FRAME, shortcut_test
    from dermsynth.classify.train import train_setup

    sdir = out / "setups" / name
    sdir.mkdir(parents=True, exist_ok=True)
    spec = next(s for s in exp.setups if s.name == name)
    train_df, notes = build_training_set(spec, pools, exp.seed, out / "data")
    if dist.is_main():
        write_csv(train_df[["image_id", "path", "label", "data"]], sdir / "train_set.csv")
    log(
        f"[{name}] training on {len(train_df)} images "
        f"({int((train_df.label == 1).sum())} melanoma) from {sorted(train_df['data'].unique())}"
    )
    t0 = time.time()
    key = setup_key(exp, name)
    clf, st = train_setup(
        train_df,
        real["val"],
        exp.model,
        exp.train,
        sdir,
        exp.seed,
        device,
        key,
        log=lambda m: log(f"[{name}] {m}"),
    )
    if clf.note:
        log(f"[{name}] note: {clf.note}")
    tf = make_transform(exp.model.image_size, clf.mean, clf.std, train=False)
    rows = []
    for split in ("val", "test"):
        df = real[split]
        s = predict_scores(
            clf.model,
            ImageTable(df["path"], df["label"], tf),
            exp.train.eval_batch_size,
            device,
            exp.train.workers,
            exp.train.amp,
        )
        rows.append(
            pd.DataFrame({"image_id": df["image_id"], "label": df["label"], "score": s, "split": split})
        )
    preds = pd.concat(rows, ignore_index=True)
    preds["weights"] = clf.weights.weights
    shortcut = None
    if exp.eval.shortcut and FRAME in real["test"].columns and real["test"][FRAME].notna().any():
        test_scores = preds.loc[preds.split == "test", "score"].to_numpy()
        shortcut = shortcut_test(
            clf.model,
            clf.mean,
            clf.std,
            exp.model.image_size,
            real["test"],
            device,
            exp.train.eval_batch_size,
            exp.seed,
            exp.train.workers,
            scores=test_scores,
        )
    if dist.is_main():
        write_csv(preds, sdir / "predictions.csv")
        if shortcut is not None:
            atomic_write_json(sdir / "shortcut.json", json_safe(shortcut))
        atomic_write_json(
            sdir / "done.json",
            json_safe(
                {
                    "key": key,
                    "epochs": st.epoch,
                    "best_epoch": st.best_epoch,
                    "best_val_auc": st.best_metric,
                    "seconds": time.time() - t0,
                    "n_train": len(train_df),
                    "weights": clf.weights.as_dict(),
                    "note": clf.note,
                    "warnings": notes,
                    "history": st.history,
                }
            ),
        )
    dist.barrier()
    return preds


def is_done(out: Path, exp: Experiment, name: str) -> bool:
    import json

    p = out / "setups" / name / "done.json"
    if not (p.is_file() and (out / "setups" / name / "predictions.csv").is_file()):
        return False
    return json.loads(p.read_text()).get("key") == setup_key(exp, name)


def run_experiment(
    exp: Experiment, out: str | Path, device: str = "auto", only: list[str] | None = None, log=print
) -> pd.DataFrame:
    """Run every setup not yet done, then write table.csv, results.json and roc.png."""
    out = Path(out)
    dist.init()
    if not dist.is_main():
        log = _quiet
    dev = dist.device(device)
    if dist.is_main():
        out.mkdir(parents=True, exist_ok=True)
        save_config(exp, out)
    real = load_real(exp)
    if dist.is_main():
        for k, df in real.items():
            write_csv(df, out / "data" / f"{'train_real' if k == 'train' else k}.csv")
    names = [s.name for s in exp.setups if only is None or s.name in only]
    needed = {src.data for s in exp.setups if s.name in names for src in s.sources}
    pools = {"real": real["train"]}
    for name in sorted(needed - {"real"}):
        if name not in exp.data:
            raise ValueError(f"a setup uses data source {name!r}, which `data` does not define")
        pools[name] = load_source(name, exp.data[name], Path(exp.base_dir), out, device)
    for name in names:
        if is_done(out, exp, name):
            log(f"[{name}] done already, skipped")
            continue
        run_setup(exp, name, pools, real, out, dev, log)
    if dist.is_main():
        return summarise_run(out, exp)
    return pd.DataFrame()


def _quiet(msg: str) -> None:
    """Log sink of non-main ranks."""


def summarise_run(out: Path, exp: Experiment) -> pd.DataFrame:
    """table.csv + shortcut.csv + results.json (written by ``classify.results``) and roc.png from the
    setups' predictions files."""
    import json

    from dermsynth.classify.table import build_table, read_predictions

    preds = {}
    for s in exp.setups:
        p = out / "setups" / s.name / "predictions.csv"
        if p.is_file():
            preds[s.name] = read_predictions(p)
        else:
            warnings.warn(f"setup {s.name}: no predictions yet, left out of the table", stacklevel=2)
    if not preds:
        raise ValueError(f"{out}: no setup has predictions")
    ev = exp.eval
    table = build_table(
        preds,
        rule=ev.threshold_rule,
        target_sensitivity=ev.target_sensitivity,
        n_boot=ev.n_bootstrap,
        seed=exp.seed,
    )
    per_setup = {}
    for name in preds:
        sd = out / "setups" / name
        per_setup[name] = {
            f: json.loads((sd / f"{f}.json").read_text())
            for f in ("done", "shortcut")
            if (sd / f"{f}.json").is_file()
        }
    shortcuts = {n: v["shortcut"] for n, v in per_setup.items() if "shortcut" in v}
    table = write_results(out, table, exp.name, per_setup, shortcuts)
    plot_roc(preds, out / ROC_PNG, title=f"{exp.name}: ROC on the real test set")
    return table
