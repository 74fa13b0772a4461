"""Metric names: what each name means (kind, sample count, feature space), as StyleGAN2-ADA's metric_main.

A name says everything that changes the number, so a figure can never be quoted under a protocol it
did not follow:

* **Official names** mean the official StyleGAN2-ADA protocol (Karras et al. 2020, ``metric_main``) and
  need its feature networks from local files (they refuse to run without them):

  ========================  ==================================================================
  ``fid50k_full``           FID, 50k generated vs the full real set, Inception-v3 2048-d pool
  ``kid50k_full``           KID, 50k generated vs the full real set, Inception-v3, 100 subsets of 1000
  ``pr50k3_full``           precision/recall, k = 3, 50k generated vs the full real set, VGG16 fc2
  ``ppl2_wend``             PPL in W, end points, eps 1e-4, no crop, 50k samples, LPIPS-VGG16
  ========================  ==================================================================

* **Explicit names** for every other protocol: ``<metric><count>_<space>``, where ``<count>`` is the
  number of synthetic images, written ``10k`` (thousands) or ``500`` (exact), and ``<space>`` names the
  feature space (``SPACES``):

  - ``fid<count>_<space>``, ``kid<count>_<space>``, ``memo<count>_<space>``: e.g. ``fid10k_effnetlite``
  - ``probe<count>_<space>``: the linear probe (metrics/probe.py): balanced accuracy of a 5-fold logistic
    regression telling ``<count>`` synthetic images from as many real ones, with a real-vs-real control
  - ``pr<count><k>_<space>``: precision/recall with a k-NN neighbourhood of ``<k>`` (one digit),
    e.g. ``pr10k3_effnetlite``
  - ``ppl<count>_wend_<space>``: path length with ``ppl2_wend``'s protocol but ``<count>`` samples and the
    distance of ``<space>`` (``lpips``: LPIPS-VGG16; otherwise squared L2 of that space's features),
    e.g. ``ppl10k_wend_effnetlite``

The real side is always the full real set (every readable image), as in the ``_full`` metrics. Result
keys start with the metric's name: ``fid10k_effnetlite``, ``kid10k_effnetlite`` (+ ``_std``),
``pr10k3_effnetlite_precision`` / ``_recall``, ``memo1k_effnetlite_flag``, ``ppl2_wend``,
``probe1k_effnetlite`` (+ ``_std``, ``_control``, ``_control_std``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: Metric kinds, in the order they are computed and reported.
KINDS = ("fid", "kid", "pr", "probe", "memo", "ppl")


@dataclass(frozen=True)
class MetricSpec:
    """One metric name, resolved: what is computed, on how many synthetic images, in which space."""

    name: str  # the name as written in outputs (metrics.json keys, metric-<name>.jsonl)
    kind: str  # one of KINDS
    num: int  # synthetic images (generated, or drawn from a folder); PPL: samples
    space: str  # key of SPACES: the feature network (PPL: the distance)
    k: int = 3  # precision/recall neighbourhood size (pr only)
    official: bool = False  # an official StyleGAN2-ADA name: official weights and settings only

    @property
    def needs_generator(self) -> bool:
        """PPL walks the generator's latent space; the others also take a folder of images."""
        return self.kind == "ppl"


@dataclass(frozen=True)
class Space:
    """A feature space a metric name can use: its extractor spec, and a cheap check of its weights."""

    name: str
    doc: str
    extractor: Callable[[object], str]  # options -> spec for extractors.get_extractor
    locate: Callable[[object], object] | None = None  # options -> weights file; raises naming it if absent


#: space name (as in metric names) -> Space. Extend with ``register_space``.
SPACES: dict[str, Space] = {}


def register_space(
    name: str,
    doc: str,
    extractor: Callable[[object], str],
    locate: Callable[[object], object] | None = None,
) -> Space:
    """Add a feature space usable in explicit metric names (``fid1k_<name>`` ...)."""
    if not re.fullmatch(r"[a-z][a-z0-9]*", name):
        raise ValueError(f"space name {name!r}: lower-case letters and digits only, starting with a letter")
    SPACES[name] = Space(name, doc, extractor, locate)
    return SPACES[name]


def _needs(opts, field: str, space: str) -> str:
    value = getattr(opts, field, None)
    if not value:
        flag = "--" + field.replace("_", "-")
        raise ValueError(f"metrics in the {space!r} space need {flag} (option {field}=...)")
    return str(value)


def _inception_file(o):
    from dermsynth.metrics.inception import find_inception_weights

    return find_inception_weights(o.inception_weights)


def _vgg16_file(o):
    from dermsynth.metrics.lpips import find_vgg16_weights

    return find_vgg16_weights(o.vgg16_weights)


def _lite_file(model: str):
    def locate(o):
        from dermsynth.core.pretrained import lite_weights_path

        return lite_weights_path(model)

    return locate


def _dermo_file(o):
    from dermsynth.metrics.dermo import resolve_dermo_checkpoint

    return resolve_dermo_checkpoint(_needs(o, "dermo", "dermo"))


def _torchscript_file(o):
    from pathlib import Path

    p = Path(_needs(o, "torchscript", "torchscript"))
    if not p.is_file():
        raise FileNotFoundError(f"{p}: TorchScript feature network not found")
    return p


register_space(
    "inception",
    "Inception-v3 pt_inception-2015-12-05, 2048-d pool features (the FID/KID network)",
    lambda o: "inception",
    _inception_file,
)
register_space(
    "vgg16",
    "VGG16 (torchvision ImageNet weights) fc2 features after ReLU, 4096-d (the precision/recall network)",
    lambda o: "vgg16",
    _vgg16_file,
)
register_space("lpips", "LPIPS-VGG16 distance (PPL only)", lambda o: "lpips", _vgg16_file)
register_space(
    "effnetlite",
    "offline ImageNet EfficientNet-Lite0, 1280-d pooled features (input size: feature_size or 224)",
    lambda o: "effnet-lite:lite0",
    _lite_file("tf_efficientnet_lite0"),
)
register_space(
    "effnetlite2",
    "offline ImageNet EfficientNet-Lite2, 1408-d pooled features (input size: feature_size or 260)",
    lambda o: "effnet-lite:lite2",
    _lite_file("tf_efficientnet_lite2"),
)
register_space(
    "dermo",
    "a dermsynth classifier / artifact model (option dermo=CHECKPOINT), pooled pre-logit features",
    lambda o: "dermo:" + _needs(o, "dermo", "dermo"),
    _dermo_file,
)
register_space(
    "torchscript",
    "any TorchScript network (option torchscript=PATH): float [0, 1] NCHW -> [N, D]",
    lambda o: "torchscript:" + _needs(o, "torchscript", "torchscript"),
    _torchscript_file,
)

#: The official StyleGAN2-ADA names (stylegan2-ada-pytorch metrics/metric_main.py).
OFFICIAL: dict[str, MetricSpec] = {
    "fid50k_full": MetricSpec("fid50k_full", "fid", 50_000, "inception", official=True),
    "kid50k_full": MetricSpec("kid50k_full", "kid", 50_000, "inception", official=True),
    "pr50k3_full": MetricSpec("pr50k3_full", "pr", 50_000, "vgg16", k=3, official=True),
    "ppl2_wend": MetricSpec("ppl2_wend", "ppl", 50_000, "lpips", official=True),
}

_COUNT = r"(?P<count>\d+k?)"
_PATTERNS = {
    "pr": re.compile(rf"pr{_COUNT}(?P<k>[1-9])_(?P<space>[a-z][a-z0-9]*)"),
    "ppl": re.compile(rf"ppl{_COUNT}_wend_(?P<space>[a-z][a-z0-9]*)"),
    **{
        kind: re.compile(rf"{kind}{_COUNT}_(?P<space>[a-z][a-z0-9]*)")
        for kind in ("fid", "kid", "memo", "probe")
    },
}
#: Old generic names, refused with a pointer to the explicit ones.
_RENAMED = {
    "fid",
    "kid",
    "pr",
    "ppl",
    "memo",
    "probe",
    "precision",
    "recall",
    "memorisation",
    "fid50k",
    "kid50k",
    "pr50k3",
}


def _count(text: str) -> int:
    return int(text[:-1]) * 1000 if text.endswith("k") else int(text)


def resolve_metric(name: str) -> MetricSpec:
    """The MetricSpec a name stands for; ValueError naming the problem and examples of valid names."""
    name = name.strip()
    if name in OFFICIAL:
        return OFFICIAL[name]
    for kind, pat in _PATTERNS.items():
        m = pat.fullmatch(name)
        if not m:
            continue
        space = m["space"]
        if space not in SPACES or (space == "lpips" and kind != "ppl"):
            valid = [s for s in SPACES if kind == "ppl" or s != "lpips"]
            raise ValueError(f"metric {name!r}: unknown feature space {space!r} for {kind}; known: {valid}")
        num = _count(m["count"])
        if num < 2:
            raise ValueError(f"metric {name!r}: needs at least 2 synthetic images")
        return MetricSpec(name, kind, num, space, k=int(m["k"]) if kind == "pr" else 3)
    hint = ""
    if name.lower() in ("fid50k", "kid50k", "pr50k3"):
        hint = f" dermsynth always compares with the full real set: use {name.lower()}_full."
    elif name.lower() in _RENAMED:
        hint = (
            " Generic names were removed because they did not say the protocol: name the sample count "
            "and the feature space, e.g. fid10k_effnetlite, or use an official name."
        )
    raise ValueError(
        f"unknown metric {name!r}.{hint} Official: {sorted(OFFICIAL)}; explicit: "
        f"<fid|kid|memo|probe><count>_<space>, pr<count><k>_<space>, ppl<count>_wend_<space> with count like "
        f"10k or 500 and space in {sorted(SPACES)} (e.g. fid10k_effnetlite, pr10k3_effnetlite, "
        f"ppl10k_wend_lpips). See docs/metrics.md."
    )


def resolve_metrics(names) -> list[MetricSpec]:
    """``"a,b"`` or a sequence of names -> specs in computing order (kind, then as given); no repeats."""
    items = names.split(",") if isinstance(names, str) else list(names)
    items = [str(n).strip() for n in items if str(n).strip()]
    if not items:
        raise ValueError("no metric named; e.g. fid10k_effnetlite or fid50k_full (see docs/metrics.md)")
    specs = list({s.name: s for s in map(resolve_metric, items)}.values())
    if sum(s.kind == "memo" for s in specs) > 1:
        raise ValueError(
            f"one memorisation metric per run (got {[s.name for s in specs if s.kind == 'memo']})"
        )
    return sorted(specs, key=lambda s: KINDS.index(s.kind))


def list_metrics() -> dict[str, str]:
    """Official names and one example per kind, with what they mean (for --help and docs)."""
    out = {n: f"official: {s.kind}, {s.num} samples, {SPACES[s.space].doc}" for n, s in OFFICIAL.items()}
    for ex in ("fid10k_effnetlite", "kid10k_effnetlite", "pr10k3_effnetlite", "memo10k_effnetlite",
               "ppl10k_wend_lpips", "fid1k_dermo", "probe1k_effnetlite"):  # fmt: skip
        s = resolve_metric(ex)
        out[ex] = f"{s.kind}, {s.num} samples, {SPACES[s.space].doc}"
    return out
