"""``metrics.json``: the one layout the metrics stage writes and every other stage reads (torch-free).

Written by :func:`write_metrics` from the dict of ``driver.evaluate`` (plus the pipeline's ``floor``);
read by :func:`read_metrics` in the report, the data cards and the model-card script. The layout
(docs/architecture.md, Contracts):

* ``metrics``: the metric names in order (``fid1k_effnetlite``, ``pr1k3_effnetlite``, ``memo1k_effnetlite``);
* ``results[<name>]`` (FID, KID, PPL), ``results[<name>_std]`` (KID), ``results[<name>_precision]`` /
  ``_recall`` (PR), ``results[<name>_flag]`` (memorisation), ``results[<name>]`` / ``_std`` /
  ``_control`` / ``_control_std`` (the linear probe: balanced accuracy, synthetic vs real and real vs real);
* ``per_class[<class>][...]``: the same keys per class;
* ``details[<name>]``: ``kind``, ``num``, ``space``, ``official``, ``features`` (the extractor's
  provenance: ``extractor`` e.g. ``effnet-lite:lite0@224``, ``weights``, ``path``), ``num_real``,
  ``num_fake``; for ``memo`` also ``memorisation`` (p-values, ``flag``, ``alpha``, ``holdout``);
* ``real`` / ``fake``: which images (``dir``, ``network``, ``num``);
* ``floor`` (the real floor, when computed): ``results[<fid name>]`` real train vs held-out,
  ``generated[<fid name>]`` generated vs the same held-out images, ``num``, ``num_reference``,
  ``real``, ``reference``, ``num_by_metric``; computed by the driver when ``MetricOptions.floor`` (metrics/floor.py).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("fid", "kid", "pr", "ppl", "memo", "probe")


def write_metrics(path: str | os.PathLike, result: dict) -> Path:
    """Write a metrics result (``driver.evaluate``'s dict, optionally with ``floor``) atomically."""
    from dermsynth.core.io import atomic_write_json

    if not isinstance(result.get("results"), dict) or not isinstance(result.get("details"), dict):
        raise ValueError(f"{path}: a metrics result needs 'results' and 'details' (driver.evaluate's output)")
    atomic_write_json(path, result)
    return Path(path)


def read_metrics(path: str | os.PathLike) -> MetricsResult:
    """The metrics.json at ``path``; a clear error naming the file when it is not one."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{p}: not a readable metrics.json ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ValueError(f"{p}: not a metrics.json of the metrics stage (no 'results')")
    return MetricsResult(data, str(p))


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


@dataclass(frozen=True)
class MetricsResult:
    """Named questions on one metrics.json (``data`` keeps the whole file)."""

    data: dict
    path: str | None = None

    # -- which metrics
    def details(self, name: str) -> dict:
        d = self.data.get("details", {}).get(name)
        return d if isinstance(d, dict) else {}

    def names(self, kind: str) -> list[str]:
        """Names of the metrics of ``kind`` (fid, kid, pr, ppl, memo, probe) in the file, in order."""
        listed = self.data.get("metrics") or list(self.data.get("details", {}))
        return [n for n in listed if self.details(n).get("kind") == kind]

    def first(self, kind: str) -> str | None:
        names = self.names(kind)
        return names[0] if names else None

    # -- values
    def value(self, name: str | None, suffix: str = "", per_class: str | None = None) -> float | None:
        if name is None:
            return None
        res = self.data.get("results", {}) if per_class is None else self.per_class().get(per_class, {})
        return _num(res.get(name + suffix))

    def per_class(self) -> dict[str, dict]:
        pc = self.data.get("per_class", {})
        return {c: v for c, v in pc.items() if isinstance(v, dict)} if isinstance(pc, dict) else {}

    def fid(self, per_class: str | None = None) -> float | None:
        return self.value(self.first("fid"), per_class=per_class)

    def kid(self, per_class: str | None = None) -> float | None:
        return self.value(self.first("kid"), per_class=per_class)

    def ppl(self, per_class: str | None = None) -> float | None:
        return self.value(self.first("ppl"), per_class=per_class)

    def precision(self, per_class: str | None = None) -> float | None:
        return self.value(self.first("pr"), "_precision", per_class)

    def recall(self, per_class: str | None = None) -> float | None:
        return self.value(self.first("pr"), "_recall", per_class)

    def probe(self, per_class: str | None = None) -> tuple[float | None, float | None]:
        """``(synthetic vs real, real vs real control)`` accuracies of the first linear probe."""
        name = self.first("probe")
        return self.value(name, per_class=per_class), self.value(name, "_control", per_class)

    # -- how they were measured
    def features(self, name: str | None = None) -> str:
        """The feature space of metric ``name`` (default: the first FID) as its extractor names it."""
        name = name or self.first("fid") or next(iter(self.data.get("details", {})), None)
        f = self.details(name).get("features") if name else None
        return str(f.get("extractor", "")) if isinstance(f, dict) else ""

    def weights(self, name: str | None = None) -> str:
        name = name or self.first("fid")
        f = self.details(name).get("features") if name else None
        return str(f.get("weights") or "") if isinstance(f, dict) else ""

    def num_fake(self, name: str | None = None) -> int | None:
        name = name or self.first("fid")
        v = self.details(name).get("num_fake") if name else None
        return int(v) if _num(v) is not None else None

    def num_real(self, name: str | None = None) -> int | None:
        name = name or self.first("fid")
        v = self.details(name).get("num_real") if name else None
        return int(v) if _num(v) is not None else None

    def memorisation(self) -> dict | None:
        """The memorisation check's result (p-values, flag, alpha, holdout), or None when not run."""
        name = self.first("memo")
        memo = self.details(name).get("memorisation") if name else None
        return memo if isinstance(memo, dict) else None

    def source(self) -> str:
        """The generated images measured: the network, else the folder."""
        fake = self.data.get("fake")
        if isinstance(fake, dict):
            for key in ("network", "dir"):
                if fake.get(key):
                    return str(fake[key])
        return ""

    # -- the real floor
    def floor(self) -> dict | None:
        f = self.data.get("floor")
        return f if isinstance(f, dict) and isinstance(f.get("results"), dict) else None

    def floor_fid(self) -> tuple[float | None, float | None]:
        """``(real floor, generated)`` of the first FID: real train and generated images, each against
        the same held-out real images in the same features (None where the floor was not computed)."""
        f, name = self.floor(), self.first("fid")
        if f is None or name is None:
            return None, None
        gen = f.get("generated", {})
        return _num(f["results"].get(name)), _num(gen.get(name) if isinstance(gen, dict) else None)
