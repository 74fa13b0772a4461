"""``dermsynth edit``: latent directions (SeFa / PCA / SVM), applying them, and measuring them."""

from __future__ import annotations

from pathlib import Path

import typer

from dermsynth.cli.common import console, parse_int_ranges, progress, user_errors

app = typer.Typer(
    help="Latent editing: find directions in W, apply them, measure what they do.", no_args_is_help=True
)

NETWORK = typer.Option(
    ...,
    "--network",
    help="Network file (NAME.safetensors + NAME.json); sefa also reads official-layout safetensors.",
)
DEVICE = typer.Option("auto", "--device", help="auto | cpu | cuda | cuda:N | mps")


def _class(G, name: str | None) -> int | None:
    from dermsynth.core.manifest import class_index
    from dermsynth.edit.batch import class_names_of

    if name is None or int(getattr(G, "c_dim", 0)) == 0:
        if name is not None:
            raise ValueError(f"--class {name}: the network is unconditional")
        return None
    return class_index(name, class_names_of(G))


def _device(device: str) -> str:
    from dermsynth.core.distributed import device as pick

    return str(pick(device))


@app.command()
def directions(
    network: str = NETWORK,
    method: str = typer.Option(..., "--method", help="sefa | pca | svm"),
    out: Path = typer.Option(Path("directions.npz"), "--out", help="Output .npz"),
    layers: str = typer.Option(
        "all", "--layers", help="sefa: ws indices whose affines are used (all | 0-5 | 0-3,7)"
    ),
    k: int | None = typer.Option(None, "--k", help="Keep the first k directions (default all)"),
    num: int | None = typer.Option(None, "--num", help="Samples (pca: 100000, svm: 10000)"),
    class_name: str | None = typer.Option(
        None, "--class", help="Conditional nets: one class (name or index); default all classes in turn"
    ),
    score: str = typer.Option(
        "dark_corner",
        "--score",
        help="svm: scorer (dark_corner | bias:<artifact> | classifier:PATH | lesion_area ...)",
    ),
    fraction: float = typer.Option(0.25, "--fraction", help="svm: top and bottom fraction of scores used"),
    trunc: float = typer.Option(1.0, "--trunc", help="svm: truncation psi of the samples"),
    orthogonal_to: list[str] = typer.Option(
        [], "--orthogonal-to", help="svm: project out 'class' or FILE[:K] (repeatable)"
    ),
    batch_size: int = typer.Option(32, "--batch-size"),
    device: str = DEVICE,
) -> None:
    """Find latent directions with SeFa, PCA (GANSpace) or an SVM boundary (InterFaceGAN)."""
    with user_errors():
        from dermsynth.core.io import sha256_file
        from dermsynth.edit import get_scorer, pca_of_generator, save_directions, sefa
        from dermsynth.edit import network as net
        from dermsynth.edit.svm import svm_directions

        prov = {"network": str(network)}
        if Path(network).is_file():
            prov["network_sha256"] = sha256_file(network)
        if method == "sefa":
            d = sefa(net.load_affines(network), layers, k)
            console.print(
                f"sefa on {len(d.meta['affines'])} affines (ws {d.meta['layers']}): top eigenvalues {d.values[:6].round(3).tolist()}"
            )
        elif method == "pca":
            dev = _device(device)
            G = net.load_generator(network, dev)
            d = pca_of_generator(G, num or 100_000, _class(G, class_name), k, max(batch_size, 256), dev)
            console.print(
                f"pca of {d.meta['num_samples']} w: explained variance ratio {d.extra['explained_variance_ratio'][:6].round(4).tolist()}"
            )
        elif method == "svm":
            dev = _device(device)
            G = net.load_generator(network, dev)
            scorer = get_scorer(score, D=net.load_discriminator(network, dev), device=dev)
            n = num or 10_000
            with progress() as bar:
                task = bar.add_task("sampling + scoring", total=n, info="")
                d = svm_directions(
                    G,
                    scorer,
                    score,
                    n,
                    _class(G, class_name),
                    fraction,
                    trunc,
                    orthogonal_to,
                    batch_size,
                    dev,
                    lambda m: bar.advance(task, m),
                )
            ortho = d.meta["orthogonal_to"]
            console.print(
                f"svm boundary for {score!r}: held-out accuracy {d.values[0]:.3f} ({d.meta['n_test']} samples)"
                + (f"; orthogonal to {ortho}" if ortho else "")
            )
        else:
            raise ValueError(f"unknown --method {method!r}; choose sefa, pca or svm")
        d.meta.update(prov, method=method)
        save_directions(d, out)
        console.print(f"wrote {d.k} directions to {out}")


@app.command()
def apply(
    network: str = NETWORK,
    directions_file: Path = typer.Option(..., "--directions", help="directions.npz"),
    index: int = typer.Option(0, "--index", help="Direction index K"),
    alphas: str = typer.Option("-3:3:7", "--alphas", help="START:STOP:COUNT or a comma list"),
    seeds: str = typer.Option("0-7", "--seeds", help="Seeds, e.g. 0-99,200"),
    class_name: str | None = typer.Option(
        None, "--class", help="Class (name or index) of conditional networks"
    ),
    layers: str | None = typer.Option(
        None, "--layers", help="ws indices to move (default: the file's layers; 'all')"
    ),
    trunc: float = typer.Option(1.0, "--trunc", help="Truncation psi"),
    noise_mode: str = typer.Option("const", "--noise-mode", help="const | random | none"),
    strip: Path | None = typer.Option(
        None, "--strip", help="Write a strip mosaic (rows: seeds; columns: alphas; original framed)"
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write an edited dataset (images/, manifest.csv, dataset.json)"
    ),
    until_clean: str | None = typer.Option(
        None, "--until-clean", help="Detector: step alpha until it stops firing (e.g. dark_corner)"
    ),
    alpha_step: float = typer.Option(0.5, "--alpha-step"),
    max_alpha: float = typer.Option(10.0, "--max-alpha"),
    sign: str = typer.Option("auto", "--sign", help="until-clean direction: auto | + | -"),
    batch_size: int = typer.Option(16, "--batch-size"),
    device: str = DEVICE,
) -> None:
    """Apply direction K: strips, layer-range edits, edited datasets, frame removal until clean."""
    with user_errors():
        from dermsynth.core.io import write_png
        from dermsynth.edit import (
            EditJob,
            clean_to_dataset,
            edit_strip,
            edit_to_dataset,
            get_scorer,
            load_directions,
            parse_alphas,
            parse_layers,
            strip_image,
        )
        from dermsynth.edit import network as net
        from dermsynth.edit.apply import seeds_ws

        if strip is None and out is None:
            raise ValueError("nothing to do: give --strip FILE and/or --out DIR")
        if until_clean and out is None:
            raise ValueError("--until-clean writes a dataset: give --out DIR")
        dirs = load_directions(directions_file)
        dev = _device(device)
        G = net.load_generator(network, dev)
        if dirs.w_dim != G.w_dim:
            raise ValueError(
                f"{directions_file}: directions have {dirs.w_dim} dims, {network} has w_dim {G.w_dim}"
            )
        d = dirs.direction(index)
        lay = parse_layers(layers, G.num_ws) if layers else (dirs.layers.tolist() or list(range(G.num_ws)))
        seed_list = parse_int_ranges(seeds)
        cls = _class(G, class_name)
        if cls is None and int(getattr(G, "c_dim", 0)):
            raise ValueError("the network is conditional: give --class")
        alpha_list = parse_alphas(alphas)
        job = EditJob(
            dirs, index, lay, cls, trunc, noise_mode, str(network), str(directions_file), batch_size, dev
        )
        if strip is not None:
            ws, _ = seeds_ws(G, seed_list, cls, trunc, dev)
            imgs, vals, mid = edit_strip(G, ws, d, alpha_list, lay, noise_mode, batch_size, dev)
            write_png(strip, strip_image(imgs, mid))
            console.print(
                f"wrote strip {strip}: {len(seed_list)} seeds x alphas {[round(v, 3) for v in vals]} (ws {lay})"
            )
        if out is not None:
            with progress() as bar:
                task = bar.add_task("editing", total=len(seed_list), info="")
                step = lambda m: bar.advance(task, m)  # noqa: E731
                if until_clean:
                    sg = {"auto": None, "+": 1.0, "-": -1.0}.get(sign, "bad")
                    if sg == "bad":
                        raise ValueError(f"--sign must be auto, + or -, got {sign!r}")
                    manifest, used = clean_to_dataset(
                        G,
                        job,
                        seed_list,
                        get_scorer(until_clean),
                        until_clean,
                        out,
                        alpha_step,
                        max_alpha,
                        sg,
                        step,
                    )
                else:
                    manifest = edit_to_dataset(G, job, seed_list, alpha_list, out, step)
            if until_clean:
                import pandas as pd

                counts = pd.read_csv(manifest)["status"].value_counts().to_dict()
                console.print(f"until-clean with sign {used:+.0f}: {counts}")
            console.print(f"wrote {manifest}")


@app.command()
def evaluate(
    network: str = NETWORK,
    directions_file: Path = typer.Option(..., "--directions", help="directions.npz"),
    indices: str = typer.Option("0-9", "--indices", help="Direction indices (clipped to the file)"),
    alphas: str = typer.Option("-3,3", "--alphas", help="Alphas per direction (both signs by default)"),
    num: int = typer.Option(64, "--num", help="Samples (seeds seed-offset ..)"),
    seed_offset: int = typer.Option(0, "--seed-offset"),
    class_name: str | None = typer.Option(None, "--class", help="One class; default all classes in turn"),
    layers: str | None = typer.Option(
        None, "--layers", help="ws indices to move (default: the file's layers)"
    ),
    trunc: float = typer.Option(1.0, "--trunc"),
    detector: str = typer.Option(
        "dark_corner", "--detector", help="Artifact scorer whose removal is measured"
    ),
    class_scorer: str = typer.Option(
        "auto",
        "--class-scorer",
        help="auto (D projection if the file has a conditional D) | none | d_projection | classifier:PATH",
    ),
    min_lesion_iou: float = typer.Option(0.5, "--min-lesion-iou"),
    min_class_kept: float = typer.Option(0.9, "--min-class-kept"),
    out: Path = typer.Option(
        Path("edit-eval"), "--out", help="Output directory: table.csv, table.json, figure.png, best_strip.png"
    ),
    lpips: str = typer.Option(
        "auto",
        "--lpips",
        help="auto (LPIPS-VGG16 if its weights are found locally) | off | PATH to vgg16-397923af.pth",
    ),
    batch_size: int = typer.Option(16, "--batch-size"),
    device: str = DEVICE,
) -> None:
    """Measure each direction: frames removed, change outside the frame, lesion overlap, class kept."""
    with user_errors():
        from dermsynth.core.io import write_png
        from dermsynth.edit import (
            EvalSettings,
            evaluate_directions,
            get_scorer,
            load_directions,
            parse_alphas,
            parse_layers,
            strip_image,
        )
        from dermsynth.edit import network as net
        from dermsynth.edit.evaluate import best_strip, lpips_distance, save_evaluation

        dirs = load_directions(directions_file)
        dev = _device(device)
        G = net.load_generator(network, dev)
        idx = [i for i in parse_int_ranges(indices) if i < dirs.k]
        if not idx:
            raise ValueError(f"--indices {indices}: none below the file's {dirs.k} directions")
        lay = parse_layers(layers, G.num_ws) if layers else (dirs.layers.tolist() or None)
        cscorer, cname = None, "none"
        if class_scorer == "auto":
            D = net.load_discriminator(network, dev)
            if D is not None and int(getattr(D, "c_dim", 0)) >= 2:
                cscorer, cname = get_scorer("d_projection", D=D, device=dev), "d_projection"
        elif class_scorer != "none":
            D = net.load_discriminator(network, dev) if class_scorer.startswith("d_projection") else None
            cscorer, cname = get_scorer(class_scorer, D=D, device=dev), class_scorer
        s = EvalSettings(
            num,
            tuple(parse_alphas(alphas)),
            tuple(lay) if lay else None,
            _class(G, class_name),
            trunc,
            "const",
            seed_offset,
            batch_size,
            dev,
            min_lesion_iou,
            min_class_kept,
        )
        det = get_scorer(detector)
        dist, perceptual = None, "off"
        if lpips != "off":
            from dermsynth.metrics.lpips import load_lpips

            try:
                lp_net, perceptual = load_lpips(None if lpips == "auto" else lpips)
                dist = lpips_distance(lp_net, dev)
            except FileNotFoundError as e:
                if lpips != "auto":
                    raise
                perceptual = f"LPIPS not computed (SSIM outside the artifact mask only): {e}"
                console.print(
                    "[yellow]note:[/yellow] LPIPS weights not found locally; reporting SSIM only (--lpips PATH)"
                )
        with progress() as bar:
            task = bar.add_task("evaluating", total=len(idx) * len(s.alphas), info="")
            table = evaluate_directions(G, dirs, idx, det, cscorer, s, lambda m: bar.advance(task, m), dist)
        info = {
            "directions": str(directions_file),
            "network": str(network),
            "detector": detector,
            "class_scorer": cname,
            "perceptual_distance": perceptual,
        }
        best = save_evaluation(table, out, s, info)
        imgs, mid = best_strip(G, dirs, int(best["index"]), s, det)
        write_png(out / "best_strip.png", strip_image(imgs, mid))
        console.print(
            table[
                [
                    "index",
                    "alpha",
                    "n_present",
                    "removed_frac",
                    "induced_frac",
                    "ssim_outside",
                    "lesion_iou",
                    "class_kept",
                    "eligible",
                    "best",
                ]
            ].to_string(index=False)
        )
        console.print(
            f"best: direction {int(best['index'])} at alpha {best['alpha']:+g} (eligible={bool(best['eligible'])}); wrote {out}/table.csv, table.json, figure.png, best_strip.png"
        )
