"""``dermsynth gan ...``: train, generate images, import/export official StyleGAN2-ADA networks.

Only parses arguments and calls :mod:`dermsynth.gan`; the training command (cli/gan_train.py) is
mounted on this same ``app``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dermsynth.cli.common import DEVICE_HELP, console, progress, user_errors
from dermsynth.cli.edit import NoiseMode
from dermsynth.cli.gan_train import train_command

app = typer.Typer(help="Conditional StyleGAN2-ADA: train, generate, import, export.", no_args_is_help=True)
app.command("train")(train_command)


@app.command("generate")
def generate_command(
    network: Path = typer.Option(
        ..., "--network", help="Network file (NAME, NAME.safetensors or NAME.json)."
    ),
    seeds: str = typer.Option("0-99", "--seeds", help="Seeds, e.g. 0-999 or 1,5,10-20."),
    class_: str = typer.Option(None, "--class", help="Class name or index, a comma list, or 'all'."),
    trunc: float = typer.Option(1.0, "--trunc", help="Truncation psi (1 = none)."),
    trunc_cutoff: int = typer.Option(None, "--trunc-cutoff", help="Truncate only the first N ws."),
    noise_mode: NoiseMode = typer.Option(NoiseMode.const, "--noise-mode", help="Per-layer noise inputs."),
    out: Path = typer.Option(..., "--out", help="Output directory (resumable)."),
    class_aware: bool = typer.Option(False, "--class-aware", help="Truncate towards the class mean w."),
    centers_samples: int = typer.Option(
        10000, "--centers-samples", help="Samples per class for class means."
    ),
    save_ws: bool = typer.Option(False, "--save-ws", help="Also write ws.npy (manifest order)."),
    grid: Path = typer.Option(None, "--grid", help="Also write a mosaic (rows per class)."),
    batch_size: int = typer.Option(
        32, "--batch-size", help="Images per forward pass (does not change the images)."
    ),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    ema: bool = typer.Option(True, "--ema/--no-ema", help="Use G_ema when the file has it."),
) -> None:
    """Generate images into OUT/images with manifest.csv and dataset.json (resumable).

    Example: dermsynth gan generate --network isic2017-gen --seeds 0-999 --class all --out synth
    """
    from dermsynth.gan.generate_job import GenerateConfig, run_generate

    cfg = GenerateConfig(
        network=str(network), out=str(out), seeds=seeds, classes=class_, trunc=trunc, trunc_cutoff=trunc_cutoff,
        noise_mode=noise_mode.value, class_aware=class_aware, centers_samples=centers_samples, save_ws=save_ws,
        ema=ema, batch_size=batch_size, device=device, grid=str(grid) if grid else None,
    )  # fmt: skip
    with user_errors(), progress() as bar:
        task: list = []

        def start(total: int, dev: str) -> None:
            task.append(bar.add_task("generate", total=total, info=dev))

        df = run_generate(cfg, on_batch=lambda n: bar.advance(task[0], n), log=console.print, on_start=start)
    console.print(f"wrote {len(df)} images to {out}")


@app.command("import")
def import_command(
    src: Path = typer.Argument(..., help="Official network .pkl, or X.weights.safetensors (+ X.json)."),
    out: Path = typer.Option(..., "--out", help="Output NAME (writes NAME.safetensors + NAME.json)."),
    class_names: str = typer.Option(None, "--class-names", help="Comma-separated class names (index order)."),
) -> None:
    """Convert an official StyleGAN2-ADA network; pickles are read without running their code."""
    from dermsynth.gan.checkpoint import save_network
    from dermsynth.gan.official import import_official

    with user_errors():
        G, D, G_ema, meta = import_official(src)
        if class_names:
            meta["class_names"] = [c.strip() for c in class_names.split(",")]
        w, j = save_network(out, G=G, D=D, G_ema=G_ema, meta=meta)
    console.print(
        f"imported {', '.join(k for k, n in (('G', G), ('D', D), ('G_ema', G_ema)) if n)} -> {w}, {j}"
    )


@app.command("export")
def export_command(
    name: Path = typer.Argument(..., help="Network saved by dermsynth (NAME or NAME.safetensors)."),
    out: Path = typer.Option(..., "--out", help="Output X (writes X.weights.safetensors + X.json)."),
    official: bool = typer.Option(False, "--official", help="Official key names and layout (required)."),
    module_src: Path = typer.Option(
        None, "--module-src", help="Your copy of the official training/networks.py: also write X.pkl."
    ),
) -> None:
    """Export to official StyleGAN2-ADA names (and optionally an official-structure .pkl)."""
    from dermsynth.gan.checkpoint import load_networks
    from dermsynth.gan.official import export_official

    with user_errors():
        if not official:
            raise ValueError(
                "only --official export is available (a dermsynth network is already NAME.safetensors)"
            )
        nets = load_networks(name)
        meta = {"class_names": nets["info"]["class_names"], **nets["info"].get("meta", {})}
        written = export_official(
            out, G=nets.get("G"), D=nets.get("D"), G_ema=nets.get("G_ema"), meta=meta, module_src=module_src
        )
    console.print("wrote " + ", ".join(str(p) for p in written))
