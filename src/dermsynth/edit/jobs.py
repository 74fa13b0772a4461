"""The three edit jobs as library calls, each taking one frozen config: find, apply, evaluate directions.

``dermsynth edit directions|apply|evaluate`` build these configs from their options and the study
pipeline builds them from study.yaml; both call the same functions. Methods: SeFa (Shen & Zhou 2021,
closed-form factorisation of the style affines), PCA of w (GANSpace, Härkönen et al. 2020) and an SVM
boundary on scored samples (InterFaceGAN, Shen et al. 2020). ``progress(n, total)`` is called with the
number of items just done; ``log`` receives one line per result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dermsynth.edit.network as net
from dermsynth.core.distributed import device as pick_device

Progress = Callable[[int, int], None]
Log = Callable[[str], None]

METHODS = ("sefa", "pca", "svm")
NOISE_MODES = ("const", "random", "none")
SIGNS = ("auto", "+", "-")


def _noop_progress(n: int, total: int) -> None:
    pass


def _noop_log(line: str) -> None:
    pass


@dataclass(frozen=True)
class DirectionsConfig:
    """``dermsynth edit directions``: find latent directions (written to an .npz)."""

    network: str  # exported network (NAME.safetensors + NAME.json); sefa also reads official-layout files
    out: str = "directions.npz"  # output .npz
    method: str = "sefa"  # sefa | pca | svm
    layers: str = "all"  # sefa: ws indices whose style affines are factorised (all | 0-5 | 0-3,7)
    k: int | None = None  # keep the first k directions (None: all)
    num: int | None = None  # samples (pca: 100000, svm: 10000 when None)
    class_name: str | None = None  # conditional nets: one class (name or index); None: all in turn
    score: str = "dark_corner"  # svm: scorer (dark_corner | bias:<artifact> | classifier:PATH | ...)
    fraction: float = 0.25  # svm: top and bottom fraction of scores used as the two classes
    trunc: float = 1.0  # svm: truncation psi of the samples
    orthogonal_to: tuple[str, ...] = ()  # svm: project out 'class' or FILE[:K]
    batch_size: int = 32  # samples per forward pass (pca uses at least 256)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps


@dataclass(frozen=True)
class ApplyConfig:
    """``dermsynth edit apply``: move seeds along direction ``index`` (strip and/or edited dataset)."""

    network: str  # exported network
    directions: str  # directions .npz
    index: int = 0  # direction index K
    alphas: str = "-3:3:7"  # START:STOP:COUNT or a comma list
    seeds: str = "0-7"  # seeds, e.g. 0-99,200
    class_name: str | None = None  # class (name or index) of conditional networks
    layers: str | None = None  # ws indices to move (None: the file's layers; 'all')
    trunc: float = 1.0  # truncation psi
    noise_mode: str = "const"  # const | random | none
    strip: str | None = None  # write a strip mosaic here (rows: seeds; columns: alphas)
    out: str | None = None  # write an edited dataset here (images/, manifest.csv, dataset.json)
    until_clean: str | None = None  # detector: step alpha until it stops firing (e.g. dark_corner)
    alpha_step: float = 0.5  # until-clean: alpha step
    max_alpha: float = 10.0  # until-clean: largest |alpha| tried
    sign: str = "auto"  # until-clean direction: auto | + | -
    batch_size: int = 16  # images per forward pass (does not change the images)
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps


@dataclass(frozen=True)
class EvaluateConfig:
    """``dermsynth edit evaluate``: measure each direction (table.csv/json, figure.png, best_strip.png)."""

    network: str  # exported network
    directions: str  # directions .npz
    out: str = "edit-eval"  # output directory
    indices: str = "0-9"  # direction indices (clipped to the file)
    alphas: str = "-3,3"  # alphas per direction (both signs by default)
    num: int = 64  # samples (seeds seed_offset ..)
    seed_offset: int = 0  # first seed
    pool: int = 0  # also search the next POOL seeds for samples with the artifact, until half the set has it
    class_name: str | None = None  # one class; None: all classes in turn
    layers: str | None = None  # ws indices to move (None: the file's layers)
    trunc: float = 1.0  # truncation psi
    detector: str = "dark_corner"  # artifact scorer whose removal is measured
    class_scorer: str = "auto"  # auto (the shipped melanoma classifier, else D projection) | none | d_projection | classifier:PATH
    min_lesion_iou: float = 0.5  # eligibility: lesion mask IoU before/after at least this
    min_class_kept: float = 0.9  # eligibility: share of samples whose class score keeps its side
    lpips: str = "auto"  # auto (LPIPS-VGG16 if its weights are local) | off | PATH to vgg16-397923af.pth
    batch_size: int = 16  # images per forward pass
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps


def _class(G, name: str | None) -> int | None:
    from dermsynth.core.manifest import class_index
    from dermsynth.edit.batch import class_names_of

    if name is None or int(getattr(G, "c_dim", 0)) == 0:
        if name is not None:
            raise ValueError(f"class {name!r}: the network is unconditional")
        return None
    return class_index(str(name), class_names_of(G))


def find_directions(cfg: DirectionsConfig, progress: Progress = _noop_progress, log: Log = _noop_log):
    """Find directions with ``cfg.method``, save them to ``cfg.out``; return the :class:`Directions`."""
    from dermsynth.core.io import sha256_file
    from dermsynth.edit.directions import save_directions
    from dermsynth.edit.pca import pca_of_generator
    from dermsynth.edit.scores import get_scorer
    from dermsynth.edit.sefa import sefa
    from dermsynth.edit.svm import svm_directions

    if cfg.method not in METHODS:
        raise ValueError(f"unknown method {cfg.method!r}; choose sefa, pca or svm")
    prov = {"network": str(cfg.network)}
    if Path(cfg.network).is_file():
        prov["network_sha256"] = sha256_file(cfg.network)
    if cfg.method == "sefa":
        d = sefa(net.load_affines(cfg.network), cfg.layers, cfg.k)
        log(
            f"sefa on {len(d.meta['affines'])} affines (ws {d.meta['layers']}): "
            f"top eigenvalues {d.values[:6].round(3).tolist()}"
        )
    else:
        dev = pick_device(cfg.device)
        G = net.load_generator(cfg.network, dev)
        cls = _class(G, cfg.class_name)
        if cfg.method == "pca":
            d = pca_of_generator(G, cfg.num or 100_000, cls, cfg.k, max(cfg.batch_size, 256), dev)
            ratio = d.extra["explained_variance_ratio"][:6].round(4).tolist()
            log(f"pca of {d.meta['num_samples']} w: explained variance ratio {ratio}")
        else:
            scorer = get_scorer(cfg.score, D=net.load_discriminator(cfg.network, dev), device=dev)
            n = cfg.num or 10_000
            d = svm_directions(G, scorer, cfg.score, n, cls, cfg.fraction, cfg.trunc, list(cfg.orthogonal_to),
                               cfg.batch_size, dev, lambda m: progress(m, n))  # fmt: skip
            ortho = d.meta["orthogonal_to"]
            log(
                f"svm boundary for {cfg.score!r}: held-out accuracy {d.values[0]:.3f} "
                f"({d.meta['n_test']} samples)" + (f"; orthogonal to {ortho}" if ortho else "")
            )
    d.meta.update(prov, method=cfg.method)
    save_directions(d, cfg.out)
    log(f"wrote {d.k} directions to {cfg.out}")
    return d


def apply_direction(
    cfg: ApplyConfig, progress: Progress = _noop_progress, log: Log = _noop_log
) -> Path | None:
    """Write the strip and/or the edited dataset of ``cfg``; return the dataset's manifest (or None)."""
    from dermsynth.core.io import write_png
    from dermsynth.core.ranges import parse_int_ranges
    from dermsynth.edit.apply import edit_strip, parse_alphas, seeds_ws, strip_image
    from dermsynth.edit.batch import EditJob, clean_to_dataset, edit_to_dataset
    from dermsynth.edit.directions import load_directions
    from dermsynth.edit.layers import parse_layers
    from dermsynth.edit.scores import get_scorer

    if cfg.strip is None and cfg.out is None:
        raise ValueError("nothing to do: give a strip file and/or an output dataset folder")
    if cfg.until_clean and cfg.out is None:
        raise ValueError("until-clean writes a dataset: give an output dataset folder")
    if cfg.sign not in SIGNS:
        raise ValueError(f"sign must be auto, + or -, got {cfg.sign!r}")
    if cfg.noise_mode not in NOISE_MODES:
        raise ValueError(f"noise mode must be one of {NOISE_MODES}, got {cfg.noise_mode!r}")
    dirs = load_directions(cfg.directions)
    dev = pick_device(cfg.device)
    G = net.load_generator(cfg.network, dev)
    if dirs.w_dim != G.w_dim:
        raise ValueError(
            f"{cfg.directions}: directions have {dirs.w_dim} dims, {cfg.network} has w_dim {G.w_dim}"
        )
    d = dirs.direction(cfg.index)
    lay = (
        parse_layers(cfg.layers, G.num_ws) if cfg.layers else (dirs.layers.tolist() or list(range(G.num_ws)))
    )
    seed_list = parse_int_ranges(cfg.seeds)
    cls = _class(G, cfg.class_name)
    if cls is None and int(getattr(G, "c_dim", 0)):
        raise ValueError("the network is conditional: give a class")
    alpha_list = parse_alphas(cfg.alphas)
    job = EditJob(dirs, cfg.index, lay, cls, cfg.trunc, cfg.noise_mode, str(cfg.network), str(cfg.directions),
                  cfg.batch_size, dev)  # fmt: skip
    if cfg.strip is not None:
        ws, _ = seeds_ws(G, seed_list, cls, cfg.trunc, dev)
        imgs, vals, mid = edit_strip(G, ws, d, alpha_list, lay, cfg.noise_mode, cfg.batch_size, dev)
        write_png(cfg.strip, strip_image(imgs, mid))
        log(
            f"wrote strip {cfg.strip}: {len(seed_list)} seeds x alphas {[round(v, 3) for v in vals]} (ws {lay})"
        )
    if cfg.out is None:
        return None
    step = lambda m: progress(m, len(seed_list))  # noqa: E731
    if cfg.until_clean:
        sign = {"auto": None, "+": 1.0, "-": -1.0}[cfg.sign]
        manifest, used = clean_to_dataset(G, job, seed_list, get_scorer(cfg.until_clean), cfg.until_clean,
                                          cfg.out, cfg.alpha_step, cfg.max_alpha, sign, step)  # fmt: skip
        import pandas as pd

        log(f"until-clean with sign {used:+.0f}: {pd.read_csv(manifest)['status'].value_counts().to_dict()}")
    else:
        manifest = edit_to_dataset(G, job, seed_list, alpha_list, cfg.out, step)
    log(f"wrote {manifest}")
    return Path(manifest)


def evaluate(cfg: EvaluateConfig, progress: Progress = _noop_progress, log: Log = _noop_log):
    """Measure each direction of ``cfg.directions``; write the table, figure and best strip to ``cfg.out``.

    Returns ``(table, best_row)``.
    """
    from dermsynth.core.io import write_png
    from dermsynth.core.ranges import parse_int_ranges
    from dermsynth.edit.apply import parse_alphas, strip_image
    from dermsynth.edit.directions import load_directions
    from dermsynth.edit.layers import parse_layers
    from dermsynth.edit.measure import (
        EvalSettings,
        best_strip,
        evaluate_directions,
        evaluation_samples,
        save_evaluation,
    )
    from dermsynth.edit.scores import get_scorer

    dirs = load_directions(cfg.directions)
    dev = pick_device(cfg.device)
    G = net.load_generator(cfg.network, dev)
    idx = [i for i in parse_int_ranges(cfg.indices) if i < dirs.k]
    if not idx:
        raise ValueError(f"indices {cfg.indices}: none below the file's {dirs.k} directions")
    lay = parse_layers(cfg.layers, G.num_ws) if cfg.layers else (dirs.layers.tolist() or None)
    from dermsynth.models import default_model

    cscorer, cname = None, "none"
    if cfg.class_scorer == "auto" and G.c_dim >= 2 and default_model("edit-class-judge"):
        judge = default_model("edit-class-judge")  # the shipped melanoma classifier knows real skin
        cscorer, cname = get_scorer(f"classifier:{judge}", device=dev), f"classifier:{judge}"
    elif cfg.class_scorer == "auto":
        D = net.load_discriminator(cfg.network, dev)
        if D is not None and int(getattr(D, "c_dim", 0)) >= 2:
            cscorer, cname = get_scorer("d_projection", D=D, device=dev), "d_projection"
    elif cfg.class_scorer != "none":
        D = net.load_discriminator(cfg.network, dev) if cfg.class_scorer.startswith("d_projection") else None
        cscorer, cname = get_scorer(cfg.class_scorer, D=D, device=dev), cfg.class_scorer
    s = EvalSettings(cfg.num, tuple(parse_alphas(cfg.alphas)), tuple(lay) if lay else None,
                     _class(G, cfg.class_name), cfg.trunc, "const", cfg.seed_offset, cfg.batch_size, str(dev),
                     cfg.min_lesion_iou, cfg.min_class_kept, cfg.pool)  # fmt: skip
    det = get_scorer(cfg.detector)
    dist, perceptual = _perceptual(cfg.lpips, dev, log)
    samples = evaluation_samples(G, s, det)
    n_present = int(samples.det.present.sum())
    log(
        f"{cfg.detector}: present in {n_present} of {len(samples.images)} samples ({samples.searched} seeds searched)"
    )
    total = len(idx) * len(s.alphas)
    table = evaluate_directions(G, dirs, idx, det, cscorer, s, lambda m: progress(m, total), dist, samples)
    info = {"directions": str(cfg.directions), "network": str(cfg.network), "detector": cfg.detector,
            "class_scorer": cname, "perceptual_distance": perceptual,
            "seeds_searched": samples.searched}  # fmt: skip
    out = Path(cfg.out)
    best = save_evaluation(table, out, s, info)
    imgs, mid = best_strip(G, dirs, int(best["index"]), s, det, samples=samples)
    write_png(out / "best_strip.png", strip_image(imgs, mid))
    log(
        f"best: direction {int(best['index'])} at alpha {best['alpha']:+g} (eligible={bool(best['eligible'])});"
        f" wrote {out}/table.csv, table.json, figure.png, best_strip.png"
    )
    return table, best


def _perceptual(lpips: str, dev, log: Log):
    """(distance function or None, description) for ``lpips``: auto | off | weights path."""
    if lpips == "off":
        return None, "off"
    from dermsynth.edit.measure import lpips_distance
    from dermsynth.metrics.lpips import load_lpips

    try:
        lp_net, perceptual = load_lpips(None if lpips == "auto" else lpips)
        return lpips_distance(lp_net, dev), perceptual
    except FileNotFoundError as e:
        if lpips != "auto":
            raise
        log("note: LPIPS weights not found locally; reporting SSIM only (lpips: PATH)")
        return None, f"LPIPS not computed (SSIM outside the artifact mask only): {e}"
