"""``dermsynth metrics``: named metrics (FID, KID, precision/recall, PPL, memorisation) of synthetic images."""

from __future__ import annotations

from pathlib import Path

import typer

EPILOG = """Metric names say the protocol (docs/metrics.md).

Official (official weights, 50k samples): fid50k_full, kid50k_full,
pr50k3_full, ppl2_wend.

Explicit: fid<count>_<space>, kid<count>_<space>, pr<count><k>_<space>,
memo<count>_<space>, probe<count>_<space> (linear probe: synthetic vs
real accuracy, with a real-vs-real control), ppl<count>_wend_<space>;
count like 10k or 500;
space: inception, vgg16, effnetlite, effnetlite2, dermo (--dermo),
torchscript (--torchscript), lpips (ppl only).

Examples:

dermsynth metrics --real data/isic256 --synthetic out/synthetic
--metrics fid10k_effnetlite,pr10k3_effnetlite --json metrics.json

dermsynth metrics --real data/isic256 --network net.safetensors
--metrics fid50k_full,ppl2_wend --inception-weights
pt_inception-2015-12-05-6726825d.pth --vgg16-weights vgg16-397923af.pth
"""


def _removed(what: str):
    def check(value):
        if value is not None:
            raise typer.BadParameter(f"removed: {what} (see docs/metrics.md)")
        return value

    return check


def metrics(
    real: Path = typer.Option(
        ..., "--real", help="Real image directory (manifest.csv layout or a folder of images)."
    ),
    synthetic: Path | None = typer.Option(None, "--synthetic", help="Synthetic image directory."),
    network: Path | None = typer.Option(
        None, "--network", help="Generator checkpoint / export (instead of --synthetic)."
    ),
    metric_list: str = typer.Option(
        ..., "--metrics", help="Comma list of metric names, e.g. fid10k_effnetlite,pr10k3_effnetlite."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", help="Write every figure computed to this JSON file."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for memorisation files (default: beside --json)."
    ),
    inception_weights: Path | None = typer.Option(
        None,
        "--inception-weights",
        help="pt_inception-2015-12-05-6726825d.pth (or $DERMSYNTH_INCEPTION_WEIGHTS).",
    ),
    vgg16_weights: Path | None = typer.Option(
        None, "--vgg16-weights", help="vgg16-397923af.pth for pr50k3_full / vgg16 and LPIPS (ppl2_wend)."
    ),
    dermo: str | None = typer.Option(None, "--dermo", help="Checkpoint of the dermo feature space."),
    torchscript: Path | None = typer.Option(
        None, "--torchscript", help="TorchScript file of the torchscript feature space."
    ),
    feature_size: int | None = typer.Option(
        None, "--feature-size", help="Input size of the effnetlite / dermo spaces (default: the network's)."
    ),
    truncation_psi: float = typer.Option(
        1.0, "--trunc", help="Truncation psi of generated images (official names: 1 only)."
    ),
    memo_holdout: Path | None = typer.Option(None, "--memo-holdout", help="Held-out real images for memo."),
    batch_size: int = typer.Option(64, "--batch-size", help="Images per batch."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N | mps."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Reference statistics cache directory."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute the real features."),
    per_class: bool = typer.Option(True, "--per-class/--no-per-class", help="Also report each class."),
    seed: int = typer.Option(0, "--seed", help="Seed for labels, folder subsets, KID subsets, PPL latents."),
    floor: bool = typer.Option(
        False,
        "--floor",
        help="Also the real floor of every FID: real train vs held-out images, same features.",
    ),
    floor_reference: str = typer.Option(
        "val,test", "--floor-reference", help="Held-out splits of the real set for --floor (comma list)."
    ),
    features: str | None = typer.Option(
        None, "--features", hidden=True, callback=_removed("the feature space is part of the metric name")
    ),
    num: int | None = typer.Option(
        None, "--num", hidden=True, callback=_removed("the sample count is part of the metric name")
    ),
    fake: Path | None = typer.Option(None, "--fake", hidden=True, help="Old spelling of --synthetic."),
) -> None:
    """Measure synthetic images against real ones, by metric name (offline weights only)."""
    from dermsynth.cli.common import console, progress, user_errors
    from dermsynth.metrics import compute_metrics, write_results

    if fake is not None:
        if synthetic is not None:
            raise typer.BadParameter("give --synthetic only (--fake is its old spelling)")
        typer.echo("note: --fake is deprecated; use --synthetic", err=True)
        synthetic = fake

    out_dir = out or (json_out.parent if json_out else Path("dermsynth-metrics"))
    with user_errors(), progress() as bar:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, n: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, info="")
            bar.advance(tasks[stage], n)

        res = compute_metrics(
            real,
            fake_dir=synthetic,
            network=network,
            metrics=metric_list,
            progress=on_progress,
            batch_size=batch_size,
            device=device,
            seed=seed,
            per_class=per_class,
            cache_dir=cache_dir,
            use_cache=not no_cache,
            inception_weights=inception_weights,
            vgg16_weights=vgg16_weights,
            dermo=dermo,
            torchscript=torchscript,
            feature_size=feature_size,
            truncation_psi=truncation_psi,
            memo_holdout_dir=memo_holdout,
            out_dir=out_dir,
            floor=floor,
            floor_reference=tuple(x.strip() for x in floor_reference.split(",") if x.strip()),
        )
    if json_out:
        write_results(json_out, res)
    _print(console, res)


def _print(console, res: dict) -> None:
    from rich.table import Table

    for name, d in res.get("details", {}).items():
        f = d.get("features") or {}
        what = (
            f"{f.get('extractor')} — weights {f.get('weights')} ({f.get('path')})" if f else d.get("distance")
        )
        console.print(f"{name}: {d['num']} samples; {what}")
    if "cache" in res.get("real", {}):
        console.print(f"real: {res['real'].get('num')} images, cache {res['real']['cache']}")
    t = Table("result", "overall", *res.get("per_class", {}).keys())
    for k, v in res["results"].items():
        t.add_row(k, _fmt(v), *[_fmt(c.get(k, "")) for c in res.get("per_class", {}).values()])
    console.print(t)
    fl = res.get("floor") or {}
    if fl.get("note"):
        console.print(f"real floor: {fl['note']}")
    for k, v in fl.get("results", {}).items():
        console.print(
            f"{k} against the held-out {fl['reference']} images: generated {_fmt(fl['generated'][k])}, "
            f"real train floor {_fmt(v)} ({fl['num_by_metric'][k]} images each)"
        )


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def register(app: typer.Typer) -> None:
    """Add ``dermsynth metrics`` as a top-level command."""
    app.command("metrics", epilog=EPILOG)(metrics)
