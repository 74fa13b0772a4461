"""``dermsynth bias``: audit a dataset for artifacts, train the learned detector, evaluate against annotations."""

from __future__ import annotations

from pathlib import Path

import typer

from dermsynth.cli.common import DEVICE_HELP, console, progress, user_errors

app = typer.Typer(
    help="Detect dermoscopy artifacts (frames, hair, rulers, ink, gel), train and evaluate detectors.",
    no_args_is_help=True,
)


@app.command(epilog="Example: dermsynth bias audit data --method heuristic")
def audit(
    directory: Path = typer.Argument(..., help="Dataset directory with manifest.csv."),
    method: str = typer.Option(
        "best", help="heuristic | model:PATH | best (better of both per artifact; needs --model)."
    ),
    model: Path = typer.Option(None, help="Model directory from `bias train` (for --method best)."),
    figures: bool = typer.Option(True, help="Write the prevalence figure and example grids."),
    device: str = typer.Option("auto", help=f"Device of the learned model: {DEVICE_HELP}."),
) -> None:
    """Write artifact columns into DIR/manifest.csv, DIR/audit_summary.json and DIR/audit/ figures."""
    from dermsynth.bias.audit import audit_dataset, parse_method
    from dermsynth.core.manifest import read_manifest

    with user_errors():
        m = parse_method(method, model)
        n = len(read_manifest(directory))
        with progress() as bar:
            task = bar.add_task("audit", total=n, info=m.spec)
            summary = audit_dataset(
                directory, m, figures=figures, on_image=lambda: bar.advance(task), device=device
            )
    for a, s in summary["artifacts"].items():
        console.print(
            f"{a:12s} {s['source']:9s} present {s['n_present']:6d}  by class {s['prevalence_by_class']}"
        )
    if summary["n_errors"]:
        console.print(f"[yellow]{summary['n_errors']} unreadable image(s); see audit_summary.json[/yellow]")


@app.command(epilog="Example: dermsynth bias train data --out bias-model --truth labels.csv --epochs 8")
def train(
    directory: Path = typer.Argument(
        ..., help="Images: a dataset directory (manifest) or a folder of images."
    ),
    out: Path = typer.Option(..., help="Output directory (model.safetensors, model.json, training state)."),
    truth: Path = typer.Option(
        None, help="Annotation csv (labels.csv or Bissoto ;-file); default: manifest columns."
    ),
    weights: str = typer.Option("imagenet", help="imagenet | none | PATH of a local checkpoint."),
    model_name: str = typer.Option("tf_efficientnet_lite0", "--model", help="timm model name."),
    size: int = typer.Option(128, help="Training image size (px)."),
    epochs: int = typer.Option(8, help="Training epochs."),
    batch_size: int = typer.Option(32, help="Images per step."),
    lr: float = typer.Option(1e-3, help="Peak learning rate (AdamW, one-cycle schedule)."),
    holdout: float = typer.Option(0.15, help="Fraction of training images held out to choose thresholds."),
    seed: int = typer.Option(0, help="Seed of the holdout draw and the training order."),
    tta: bool = typer.Option(True, help="Average predictions over flips/rotations (holdout and audit)."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
) -> None:
    """Train the multi-label artifact classifier; rerun the same command to resume."""
    from dermsynth.bias.train import ArtifactTrainConfig, train_classifier

    cfg = ArtifactTrainConfig(
        model=model_name,
        weights=None if weights.lower() in ("none", "random") else weights,
        size=size,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        holdout=holdout,
        seed=seed,
        tta=tta,
        device=device,
    )

    def on_epoch(epoch: int, loss: float, f1: float) -> None:
        console.print(f"epoch {epoch + 1}/{cfg.epochs}  loss {loss:.4f}  holdout mean F1 {f1:.3f}")

    with user_errors():
        path = train_classifier(directory, out, truth, cfg, on_epoch=on_epoch)
    import json

    meta = json.loads(path.read_text())
    for a in meta["artifacts"]:
        console.print(
            f"{a:12s} model F1 {meta['holdout_f1'][a]:.3f}  heuristic F1 {meta['heuristic'][a]['f1']:.3f}"
            f"  -> {meta['choice'][a]}"
        )
    console.print(f"saved {path.parent}")


@app.command("eval", epilog="Example: dermsynth bias eval data --truth labels.csv --split val")
def evaluate(
    directory: Path = typer.Argument(..., help="Audited dataset directory."),
    truth: Path = typer.Option(
        ..., help="Annotation csv: labels.csv layout or the Bissoto ;-separated file."
    ),
    json_out: Path = typer.Option(
        None, "--json", help="Write {artifact: {precision, recall, f1, auc, n_pos, n}}."
    ),
    split: str = typer.Option(None, help="Only images of this manifest split (e.g. val)."),
) -> None:
    """Precision, recall, F1 and AUC of the audit per artifact against annotations."""
    from dermsynth.bias.evaluate import evaluate_dataset
    from dermsynth.core.io import atomic_write_json

    with user_errors():
        res = evaluate_dataset(directory, truth, split)
    console.print(
        f"{'artifact':12s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'AUC':>6s} {'n_pos':>6s} {'n':>6s}"
    )
    for a, m in res.items():
        auc = f"{m['auc']:.3f}" if m["auc"] is not None else "  -  "
        console.print(
            f"{a:12s} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {auc:>6s} {m['n_pos']:6d} {m['n']:6d}"
        )
    if json_out:
        atomic_write_json(json_out, res)
