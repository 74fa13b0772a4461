"""The one metrics driver: ``evaluate`` computes named metrics of a generator or a folder of images.

``dermsynth metrics`` (``compute.compute_metrics``) and training snapshots
(``training.compute_for_training``) both call ``evaluate``; they differ only in where the results go.

Synthetic side. A generator: sample i (i = 0..num-1) has seed i and a class drawn from the real label
distribution (StyleGAN2-ADA's protocol, ``generator.sample_labels``); with several ranks, sample i is
made on rank i % world_size and the features are gathered in sample order, so every figure is the same
whatever the number of ranks. A folder: ``num`` images drawn without replacement by ``seed`` (all of
them when it holds exactly ``num``), in file order. Real side: every readable image of the real set,
from the reference cache (``features.reference_features``).

Every rank must call ``evaluate`` (collective gathers); rank 0 returns the results, the others ``{}``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from dermsynth.core import distributed as dist
from dermsynth.metrics.features import FeatureSet, extract_image_set, reference_features
from dermsynth.metrics.gather import gather_rows as _gather_rows
from dermsynth.metrics.gather import rank_major_to_index as _rank_major_to_index
from dermsynth.metrics.images import ImageSet, open_image_set, thumbnails
from dermsynth.metrics.registry import SPACES, MetricSpec, resolve_metrics

ProgressFn = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class MetricOptions:
    """Settings of a metrics run (everything but which metrics and which images)."""

    batch_size: int = 64  # images per generator / feature-network batch (PPL: pairs per batch is half)
    device: str = "auto"  # auto (this rank's GPU, else cpu) | cpu | cuda | cuda:1 ...
    seed: int = 0  # labels of generated images, folder subsets, KID subsets, PPL latents, memo split
    per_class: bool = True  # also report each class (real and synthetic images of that class)
    cache_dir: str | None = None  # reference statistics cache (default: REAL/.dermsynth-cache)
    use_cache: bool = True  # False: recompute the real features
    inception_weights: str | None = None  # pt_inception-2015-12-05-6726825d.pth (inception space)
    vgg16_weights: str | None = None  # vgg16-397923af.pth (vgg16 space, LPIPS for PPL)
    lpips_lin_weights: str | None = None  # LPIPS v0.1 vgg.pth (default: the copy inside torchmetrics)
    dermo: str | None = None  # checkpoint of the dermo space (metrics.dermo.resolve_dermo_checkpoint)
    torchscript: str | None = None  # TorchScript file of the torchscript space
    feature_size: int | None = None  # input size of the effnetlite / dermo spaces (None: the network's)
    kid_subsets: int = 100  # KID: subsets (official 100)
    kid_subset_size: int = 1000  # KID: images per subset (official 1000)
    ppl_epsilon: float = 1e-4  # PPL: step in W (official 1e-4)
    truncation_psi: float = 1.0  # psi of generated images (official metrics: 1 only)
    memo_holdout_dir: str | None = None  # held-out real images for memo (default: manifest split / 10 %)
    memo_pixel_size: int = 32  # memo: pixel-space thumbnail size
    memo_top_k: int = 32  # memo: closest pairs shown in the grid
    memo_alpha: float = 0.01  # memo: test level of the flag
    out_dir: str | None = None  # memo files (memorisation.json/.csv/grid); default ./dermsynth-metrics
    floor: bool = False  # also the real floor of every FID (metrics/floor.py): real train vs held-out
    floor_reference: tuple[str, ...] = ("val", "test")  # the held-out splits of the floor

    @classmethod
    def from_kwargs(cls, **kw) -> MetricOptions:
        """Options from keyword arguments; an unknown key is an error naming it and the valid ones."""
        removed = {
            "features": "the feature space is part of the metric name (e.g. fid10k_effnetlite)",
            "num": "the sample count is part of the metric name (e.g. fid10k_effnetlite, fid500_effnetlite)",
            "ppl_num": "the sample count is part of the metric name (e.g. ppl10k_wend_lpips)",
            "ppl_features": "the PPL distance is part of the metric name (e.g. ppl10k_wend_effnetlite)",
            "lpips_weights": "renamed vgg16_weights (--vgg16-weights)",
        }
        names = {f.name for f in dataclasses.fields(cls)}
        for k in kw:
            if k in removed:
                raise ValueError(f"metrics option {k!r} was removed: {removed[k]}; see docs/metrics.md")
            if k not in names:
                raise ValueError(f"unknown metrics option {k!r}; valid: {sorted(names)}")
        kw = {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in kw.items()}
        return cls(**kw)


#: Settings the official names fix (StyleGAN2-ADA metric_main); another value is refused.
OFFICIAL_SETTINGS = {"kid_subsets": 100, "kid_subset_size": 1000, "ppl_epsilon": 1e-4, "truncation_psi": 1.0}


class Evaluation:
    """What the metrics of one run share: the real set, extractors, features of the synthetic images."""

    def __init__(self, specs, real_dir, opts: MetricOptions, G=None, fake_dir=None, progress=None):
        self.specs, self.opts, self.G, self.progress = specs, opts, G, progress
        self.device = dist.device(opts.device)
        self.rank, self.world = dist.rank(), dist.world_size()
        self.real_set = open_image_set(real_dir)
        self.fake_set: ImageSet | None = open_image_set(fake_dir) if fake_dir is not None else None
        self.timing: dict[str, float] = {}
        self.info: dict = {"real": {"dir": str(real_dir), "num_files": len(self.real_set)}}
        self._extractors: dict = {}
        self._distances: dict = {}  # PPL distance functions per space (kinds.ppl_distance)
        self._real: dict[str, FeatureSet] = {}
        self._fake: dict[tuple[int, str], FeatureSet | None] = {}
        # per sample count: the spaces needed, and the counts whose images need memorisation thumbnails
        self.plan: dict[int, set[str]] = {}
        self.thumbs: set[int] = set()
        for s in specs:
            if s.kind != "ppl":
                self.plan.setdefault(s.num, set()).add(s.space)
            if s.kind == "memo":
                self.thumbs.add(s.num)

    # -- shared pieces ------------------------------------------------------------------------------
    @property
    def real_labels(self) -> np.ndarray | None:
        return self.real_set.labels if self.real_set.has_labels else None

    def class_names(self, n: int) -> list[str]:
        names = self.real_set.class_names
        return [names[i] if i < len(names) else f"class{i}" for i in range(n)]

    def tick(self, stage: str, total: int | None):
        return (lambda n: self.progress(stage, n, total)) if self.progress else None

    def extractor(self, space: str):
        """The feature extractor of ``space`` (built once; loads its weights from local files)."""
        if space not in self._extractors:
            from dermsynth.metrics.extractors import get_extractor

            o = self.opts
            self._extractors[space] = get_extractor(
                SPACES[space].extractor(o),
                device=self.device,
                inception_weights=o.inception_weights,
                vgg16_weights=o.vgg16_weights,
                size=o.feature_size,
            )
        return self._extractors[space]

    def real(self, space: str) -> FeatureSet:
        """Features of the full real set in ``space`` (reference cache)."""
        if space not in self._real:
            t0 = time.perf_counter()
            self._real[space] = reference_features(
                self.real_set,
                self.extractor(space),
                self.opts.batch_size,
                self.opts.cache_dir,
                self.opts.memo_pixel_size,
                self.tick(f"real [{space}]", len(self.real_set)),
                use_cache=self.opts.use_cache,
            )
            self.timing[f"real_features_{space}_s"] = round(time.perf_counter() - t0, 4)
        return self._real[space]

    def fake(self, num: int, space: str) -> FeatureSet | None:
        """Features of ``num`` synthetic images in ``space`` (rank 0; None elsewhere).

        All spaces needed at this sample count are computed in one pass over the images."""
        if (num, space) not in self._fake:
            t0 = time.perf_counter()
            spaces = sorted(self.plan.get(num, {space}) | {space})
            ext = {s: self.extractor(s) for s in spaces}
            thumb = self.opts.memo_pixel_size if num in self.thumbs else None
            sets = (
                self._folder(num, ext, thumb)
                if self.fake_set is not None
                else self._generated(num, ext, thumb)
            )
            for s in spaces:
                self._fake[(num, s)] = sets[s] if sets is not None else None
            self.timing[f"fake_features_{num}_s"] = round(time.perf_counter() - t0, 4)
        return self._fake[(num, space)]

    # -- synthetic images ---------------------------------------------------------------------------
    def sample_labels(self, num: int, seed: int | None = None) -> np.ndarray | None:
        from dermsynth.metrics.generator import sample_labels

        return sample_labels(
            self.real_labels, num, int(self.G.c_dim), self.opts.seed if seed is None else seed
        )

    def _generated(self, num: int, ext: dict, thumb: int | None) -> dict[str, FeatureSet] | None:
        """Generate samples 0..num-1 (this rank's share), take features, gather in sample order."""
        from dermsynth.metrics.generator import generate

        if num < self.world:
            raise ValueError(
                f"{num} synthetic images cannot be shared by {self.world} ranks; name a larger count"
            )
        labels = self.sample_labels(num)
        mine = np.arange(self.rank, num, self.world)
        lab = labels[mine] if labels is not None else None
        feats: dict[str, list] = {s: [] for s in ext}
        seeds, labs, thumbs = [], [], []
        on_batch = self.tick(f"generate {num}", num)
        with torch.no_grad():
            for s, c, imgs in generate(
                self.G, mine, lab, self.opts.truncation_psi, "const", self.opts.batch_size, self.device
            ):
                x = torch.from_numpy(imgs).permute(0, 3, 1, 2)
                for name, e in ext.items():
                    feats[name].append(e(x).cpu().numpy())
                seeds.append(s)
                labs.append(c)
                if thumb:
                    thumbs.append(thumbnails(imgs, thumb))
                if on_batch:
                    on_batch(len(s) * self.world)
        order = np.argsort(np.concatenate(seeds))  # generate() groups by class; back to sample order
        n_pad = -(-num // self.world)
        rows = _rank_major_to_index(num, self.world, n_pad)

        def gather(parts: list) -> np.ndarray:
            return _gather_rows(np.concatenate(parts)[order], n_pad, self.device)[rows]

        out_labels = gather(labs).astype(int)
        out_thumbs = gather(thumbs) if thumb else None
        gathered = {name: gather(f).astype(np.float32) for name, f in feats.items()}
        if self.rank != 0:
            return None
        names = [f"seed{i:08d}" + (f"-class{int(c)}" if c >= 0 else "") for i, c in enumerate(out_labels)]
        info = {"seeds": list(range(num))}
        return {
            s: FeatureSet(f, out_labels, names, out_thumbs, None, dict(info)) for s, f in gathered.items()
        }

    def _folder(self, num: int, ext: dict, thumb: int | None) -> dict[str, FeatureSet]:
        """``num`` images of the synthetic folder (a seeded draw without replacement), features per space."""
        fs = self.fake_set
        if len(fs) < num:
            raise ValueError(
                f"{fs.root}: {len(fs)} synthetic images, but the metric asks for {num}; name the count "
                f"you have (e.g. fid{len(fs)}_effnetlite) or generate more"
            )
        idx = np.arange(len(fs))
        if num < len(fs):
            idx = np.sort(np.random.default_rng(self.opts.seed).choice(len(fs), num, replace=False))
        sub = fs.subset(idx)
        out = {}
        for i, (name, e) in enumerate(ext.items()):
            on_batch = self.tick(f"synthetic {num} [{name}]", num)
            out[name] = extract_image_set(sub, e, self.opts.batch_size, thumb, on_batch)
            if i == 0:
                fs.skipped.extend(s for s in sub.skipped if s not in fs.skipped)
                fs.resized = sub.resized
        return out


def check_request(specs: list[MetricSpec], opts: MetricOptions, has_generator: bool) -> None:
    """Refuse before any work: PPL on a folder, official names with non-official settings or weights."""
    for s in specs:
        if s.needs_generator and not has_generator:
            raise ValueError(f"{s.name}: PPL needs a generator (--network), not a folder of images")
        if s.official:
            bad = {k: getattr(opts, k) for k, v in OFFICIAL_SETTINGS.items() if getattr(opts, k) != v}
            if bad:
                raise ValueError(
                    f"{s.name} is the official protocol, which fixes {OFFICIAL_SETTINGS}; got {bad}. "
                    f"Use an explicit name (e.g. {s.kind}10k_{'effnetlite' if s.kind != 'ppl' else 'wend_lpips'})"
                )


def check_metrics(metrics, has_generator: bool = True, opts: MetricOptions | None = None) -> list[MetricSpec]:
    """Resolve ``metrics`` and find every weights file they need, without loading or computing anything.

    For callers that run metrics much later (a training loop at its first snapshot): call this at
    setup, so a misspelt name or a missing weights file stops the run at once, naming the file.
    """
    opts = opts or MetricOptions()
    specs = resolve_metrics(metrics)
    check_request(specs, opts, has_generator)
    for s in specs:
        SPACES[s.space].extractor(opts)  # options the space needs (--dermo, --torchscript)
        if SPACES[s.space].locate is not None:
            SPACES[s.space].locate(opts)
    return specs


def evaluate(
    metrics,
    real_dir,
    opts: MetricOptions | None = None,
    G=None,
    fake_dir=None,
    progress: ProgressFn | None = None,
) -> dict:
    """Compute ``metrics`` (names, see registry.py) of generator ``G`` or folder ``fake_dir``, or both:
    then the image metrics measure the folder and PPL walks ``G`` (the generator that made the folder).

    Returns on rank 0 ``{"metrics", "results", "per_class", "details", "real", "fake", "timing",
    "settings"}`` (``details[name]``: protocol, features and weights used, per-metric extras), ``{}``
    on other ranks. Weights are loaded, and missing ones refused, before any image is generated.
    """
    from dermsynth.metrics.kinds import KIND_FUNCTIONS

    t_start = time.perf_counter()
    opts = opts or MetricOptions()
    if G is None and fake_dir is None:
        raise ValueError("give a synthetic image directory (--synthetic), a generator (--network) or both")
    specs = check_metrics(metrics, G is not None, opts)
    ev = Evaluation(specs, real_dir, opts, G=G, fake_dir=fake_dir, progress=progress)
    for s in specs:  # load every network first: a missing weights file stops the run before any work
        if s.space == "lpips":
            from dermsynth.metrics.kinds import ppl_distance

            ppl_distance(ev, s.space)
        else:
            ev.extractor(s.space)
    out: dict = {"metrics": [s.name for s in specs], "results": {}, "per_class": {}, "details": {}}
    for s in specs:
        t0 = time.perf_counter()
        res = KIND_FUNCTIONS[s.kind](ev, s)
        if res is None:  # not rank 0
            continue
        out["results"].update(res["results"])
        for cname, vals in res.get("per_class", {}).items():
            out["per_class"].setdefault(cname, {}).update(vals)
        out["details"][s.name] = {"kind": s.kind, "num": s.num, "space": s.space, "official": s.official}
        out["details"][s.name].update(res.get("info", {}))
        ev.timing[f"{s.name}_s"] = round(time.perf_counter() - t0, 4)
    if ev.rank != 0:
        return {}
    fids = [s for s in specs if s.kind == "fid"]
    if opts.floor and fids:
        from dermsynth.metrics.floor import real_floor

        t0 = time.perf_counter()
        out["floor"] = real_floor(ev, fids, tuple(opts.floor_reference))
        ev.timing["floor_s"] = round(time.perf_counter() - t0, 4)
    out.update(_provenance(ev, fake_dir))
    ev.timing["total_s"] = round(time.perf_counter() - t_start, 4)
    out["timing"] = ev.timing
    out["settings"] = {**dataclasses.asdict(opts), "device": str(ev.device), "world_size": ev.world}
    return out


def _provenance(ev: Evaluation, fake_dir) -> dict:
    """``real`` and ``fake`` entries of the output: which images, from where, what was skipped."""
    real = next(iter(ev._real.values()), None)
    out = {"real": dict(ev.info["real"])}
    if real is not None:
        out["real"].update({k: v for k, v in real.info.items() if k != "extract_s"}, num=len(real))
    if ev.fake_set is not None:
        fs = ev.fake_set
        out["fake"] = {"dir": str(fake_dir), "num_files": len(fs), "skipped": list(fs.skipped)}
        out["fake"]["resized"] = fs.resized
    else:
        out["fake"] = {
            "truncation_psi": ev.opts.truncation_psi,
            "labels": "drawn from the real label distribution" if int(ev.G.c_dim) > 0 else None,
            "seeds": "sample i has seed i",
        }
    return out
