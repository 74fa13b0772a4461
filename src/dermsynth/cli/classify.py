"""``dermsynth classify``: run experiments, score predictions files, shortcut test, embeddings."""

from __future__ import annotations

from pathlib import Path

import typer

from dermsynth.cli.common import DEVICE_HELP, console, progress, user_errors

app = typer.Typer(
    help="Melanoma classifiers on real / synthetic / mixed data (thesis Table 4.5, Fig. 4.17).",
    no_args_is_help=True,
)


@app.command(
    epilog="Example: dermsynth classify run experiment.yaml --out runs/clf --setup real --setup mixed"
)
def run(
    experiment: Path = typer.Argument(..., help="Experiment YAML file."),
    out: Path = typer.Option(..., "--out", help="Run directory (rerun the same command to resume)."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    setup: list[str] = typer.Option(None, "--setup", help="Only these setups (repeatable)."),
    target_sensitivity: float = typer.Option(None, help="Override eval.target_sensitivity (e.g. 0.95)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved experiment and exit."),
) -> None:
    """Train and evaluate every setup of EXPERIMENT; write table.csv, roc.png, results.json."""
    import dataclasses

    from dermsynth.classify.experiment import load_experiment
    from dermsynth.classify.run import run_experiment
    from dermsynth.core.io import to_json

    with user_errors():
        exp = load_experiment(experiment)
        if target_sensitivity is not None:
            exp = dataclasses.replace(
                exp, eval=dataclasses.replace(exp.eval, target_sensitivity=target_sensitivity)
            )
        if dry_run:
            typer.echo(to_json(exp.as_dict()))
            return
        table = run_experiment(exp, out, device, only=setup or None, log=console.print)
    if len(table):
        _print_table(table)
        console.print(f"wrote {out}/table.csv, roc.png, results.json")


def _print_table(table) -> None:
    from rich.table import Table

    t = Table("setup", "TP", "FP", "FN", "TN", "ACC", "TPR", "TNR", "AUC [95% CI]", "p vs real")
    for _, r in table.iterrows():
        t.add_row(
            str(r.setup),
            *(str(int(r[c])) for c in ("TP", "FP", "FN", "TN")),
            *(f"{r[c]:.3f}" for c in ("ACC", "TPR", "TNR")),
            f"{r.AUC:.3f} [{r.AUC_CI_low:.3f}, {r.AUC_CI_high:.3f}]",
            f"{r.DeLong_p_vs_real:.3g}",
        )
    console.print(t)


@app.command(epilog="Example: dermsynth classify metrics test.csv --val-predictions val.csv --json row.json")
def metrics(
    predictions: Path = typer.Argument(..., help="csv with image_id, label, score [, split]."),
    threshold: float = typer.Option(None, help="Fixed threshold (default: chosen on validation)."),
    val_predictions: Path = typer.Option(None, help="Validation predictions csv for choosing thresholds."),
    rule: str = typer.Option(
        "youden", help="Threshold rule on validation: youden, or a target sensitivity such as 0.95."
    ),
    target_sensitivity: float = typer.Option(
        0.95, help="Also report TPR/TNR at this validation sensitivity."
    ),
    n_bootstrap: int = typer.Option(2000, help="Bootstrap resamples for the AUC CI."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
    json_out: Path = typer.Option(None, "--json", help="Write the row as JSON here."),
) -> None:
    """The Table 4.5 row with AUC CI for any predictions file (split=val rows choose the threshold)."""
    from dermsynth.classify.results import json_safe
    from dermsynth.classify.table import read_predictions, row_for
    from dermsynth.core.io import atomic_write_json, to_json

    with user_errors():
        df = read_predictions(predictions)
        val = read_predictions(val_predictions) if val_predictions else None
        row = row_for(df, val, threshold, rule, target_sensitivity, n_bootstrap, seed)
    row = json_safe(row)
    typer.echo(to_json(row))
    if json_out:
        atomic_write_json(json_out, row)


@app.command(epilog="Example: dermsynth classify shortcut runs/clf --setup real --json shortcut.json")
def shortcut(
    run_dir: Path = typer.Argument(..., help="A classify run directory."),
    setup: str = typer.Option("real", help="Which setup's model to test."),
    test: Path = typer.Option(None, help="Dataset dir to test on (default: the run's real test set)."),
    split: str = typer.Option(None, help="Split of --test to use (default: all rows)."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    json_out: Path = typer.Option(None, "--json", help="Write the result as JSON here."),
) -> None:
    """Frame shortcut test: scores with/without frames and with frames added/removed."""
    import pandas as pd

    from dermsynth.classify.data import load_dataset
    from dermsynth.classify.results import json_safe
    from dermsynth.classify.shortcut import shortcut_test
    from dermsynth.classify.trained import load_trained
    from dermsynth.core.distributed import device as pick
    from dermsynth.core.io import atomic_write_json, to_json

    with user_errors():
        clf, exp = load_trained(run_dir, setup)
        df = (
            load_dataset(test, split)
            if test
            else pd.read_csv(run_dir / "data" / "test.csv", dtype={"image_id": str})
        )
        res = shortcut_test(
            clf.model,
            clf.mean,
            clf.std,
            exp.model.image_size,
            df,
            pick(device),
            exp.train.eval_batch_size,
            exp.seed,
        )
    res = json_safe(res)
    typer.echo(to_json(res))
    if json_out:
        atomic_write_json(json_out, res)
    if res["flagged"]:
        console.print("[yellow]flagged:[/yellow] the model's scores follow the frame (shortcut learning)")


@app.command(epilog="Example: dermsynth classify embed --out emb --real data/ --synthetic gen/ --run clf/")
def embed(
    out: Path = typer.Option(..., "--out", help="Output folder."),
    real: list[Path] = typer.Option(None, "--real", help="Real dataset dir(s)."),
    synthetic: list[Path] = typer.Option(None, "--synthetic", help="Synthetic dataset dir(s)."),
    run_dir: Path = typer.Option(None, "--run", help="Use a trained setup of this run..."),
    setup: str = typer.Option("real", help="...this setup."),
    model: str = typer.Option("tf_efficientnet_lite2", help="Otherwise this model (ImageNet features)."),
    weights: str = typer.Option("imagenet", help="imagenet | none | checkpoint path"),
    image_size: int = typer.Option(None, help="Input size (default: the run's, or 260)."),
    per_class: int = typer.Option(None, help="At most this many images per class and source."),
    split: str = typer.Option(None, help="Only rows of this split of the real dirs."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    seed: int = typer.Option(0, help="Sampling and PCA seed."),
) -> None:
    """Penultimate-layer embeddings: PCA plot, TensorBoard projector files, centroid distances."""
    from dermsynth.classify.embed import EmbedConfig, embed_datasets

    cfg = EmbedConfig(str(out), tuple(map(str, real or ())), tuple(map(str, synthetic or ())),
                      None if run_dir is None else str(run_dir), setup, model, weights, image_size, per_class,
                      split, device, seed)  # fmt: skip
    with user_errors():
        table = embed_datasets(cfg)
    console.print(f"embedded {len(table)} images -> {out}/embeddings.csv, pca.png, projector/")


@app.command()
def predict(
    data: Path = typer.Argument(..., help="Dataset directory (manifest.csv + images)."),
    model: str = typer.Option(
        "isic2017-melanoma", help="A shipped model name (`dermsynth models list`) or an exported folder."
    ),
    out: Path = typer.Option(..., "--out", help="Predictions csv: image_id,label,score,weights."),
    split: str = typer.Option(None, help="Only images of this split (default: all)."),
    tta: bool = typer.Option(False, help="Average over the 8 flips / 90-degree rotations."),
    batch_size: int = typer.Option(32, "--batch-size"),
    device: str = typer.Option("auto", help=DEVICE_HELP),
) -> None:
    """Melanoma scores for every image of DATA, e.g.
    `dermsynth classify predict DIR --out p.csv` then `dermsynth classify metrics p.csv`."""
    from dermsynth.classify.exported import predict_dataset
    from dermsynth.core.io import atomic_path

    with user_errors():
        with progress() as bar:
            task = bar.add_task("predict", total=None, info=str(model))
            df = predict_dataset(
                data, model, split, tta, batch_size, device, on_batch=lambda n: bar.advance(task, n)
            )
        with atomic_path(out) as tmp:
            df.to_csv(tmp, index=False)
    console.print(f"wrote {len(df)} predictions ({df['score'].notna().sum()} scored) to {out}")


@app.command("export")
def export_(
    run_dir: Path = typer.Argument(..., help="A `classify run` directory."),
    setup: str = typer.Option("real", help="Setup whose best-validation model is exported."),
    out: Path = typer.Option(..., "--out", help="Folder for model.safetensors + model.json."),
    half: bool = typer.Option(False, help="Store float tensors as float16 (half the size)."),
) -> None:
    """Export a trained setup as model.safetensors + model.json (usable by predict, metrics dermo:)."""
    from dermsynth.classify.exported import export_setup

    with user_errors():
        path = export_setup(run_dir, setup, out, half)
    console.print(f"wrote {path} and {path.with_suffix('.safetensors').name}")
