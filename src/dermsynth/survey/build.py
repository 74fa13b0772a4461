"""Building a blinded reader study (thesis Sec. 3.6: 200 images, half real / half synthetic, half
melanoma / half not, rulers excluded, synthetic outliers included).

Selection is balanced over (source x class) and a function of the seed alone (reproducible). The ids
are not: they come from fresh operating-system randomness (:mod:`secrets`) at every build and are
handed out after a secret shuffle of the chosen images, so neither the public seed nor the selection
order tells anything about an id (the issue's attack tried seeds until the ids matched and read off
source and diagnosis of every image). Every chosen image goes through one processing chain
(:mod:`.encode`), files are written in id order with one modification time, and the build ends with
:func:`.leakcheck.leakcheck` (file-level and pixel-level tests); a study that leaks is not kept. The
study appears at ``out`` only when complete (built in a sibling temporary directory, then renamed).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from dermsynth.core.io import atomic_write_bytes, atomic_write_json, read_rgb
from dermsynth.core.manifest import read_manifest
from dermsynth.core.seeding import rng
from dermsynth.survey.encode import MIN_SOURCE_SCALE, SourceTooSmall, encode_stimulus
from dermsynth.survey.responses import write_stimuli
from dermsynth.survey.study import (
    EXAMPLES_DIR,
    IMAGES_DIR,
    LABELS,
    LEAKCHECK_JSON,
    STUDY_JSON,
)

#: Columns an embeddings csv may use for a precomputed per-image distance to its class centroid.
DISTANCE_COLUMNS = ("centroid_distance", "distance_to_centroid", "dist_to_centroid", "distance")
#: Smallest stimulus a dermatologist can judge: at 32 px a lesion's network, dots, globules and
#: streaks are a few pixels wide, so a reader study would measure the display, not the generator.
MIN_JUDGEABLE_SIZE = 64
_NON_FEATURE = {"label", "seed", "split", "patient_id", "parent_id", "psi", "alpha", "class", "index"}


@dataclass(frozen=True)
class BuildOptions:
    """Options of ``dermsynth survey build`` (written to ``study.json``)."""

    n: int = 200
    seed: int = 0
    size: int = 256
    exclude: tuple[str, ...] = ()
    outlier_frac: float = 0.0
    examples_per_class: int = 3
    study_id: str | None = None
    leak_alpha: float = 0.001
    min_source_scale: float = MIN_SOURCE_SCALE  # sources must be >= this x size (see encode)
    unknown: str = "drop"  # excluded artifact with a blank / unreadable annotation: drop or keep
    pixel_leaks: str = "fail"  # pixel-level leak check: fail the build, or warn and keep the study
    # stimuli below MIN_JUDGEABLE_SIZE px are refused unless this is set (demos and tests only)
    allow_small_stimuli: bool = False
    # a synthetic manifest with seeds not drawn in secret (e.g. seeds 0..N of `gan generate`) is
    # refused: readers with the generator could regenerate and match them. Set to accept that anyway.
    public_synthetic_seeds: bool = False
    # how the build audits each candidate for the excluded artifacts, at the source resolution
    # (heuristic | best[:PATH] | model:PATH | none = trust the manifest alone); see survey.audit
    audit: str = "best"
    device: str = "cpu"  # for that audit and for --generator (auto | cpu | cuda | ...)


@dataclass
class BuildResult:
    study_dir: Path
    counts: dict[str, int]
    skipped: list[str] = field(default_factory=list)
    leak: dict | None = None
    too_small: list[str] = field(default_factory=list)
    exclusions: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _exclusion_audit(opts: BuildOptions):
    """The build's own audit of ``opts.exclude`` (None when nothing is excluded or audit is none)."""
    if not opts.exclude or opts.audit == "none":
        return None
    from dermsynth.core.distributed import device as pick_device
    from dermsynth.survey.audit import ExclusionAudit

    return ExclusionAudit(opts.exclude, opts.audit, str(pick_device(opts.device)))


def check_judgeable_size(opts: BuildOptions) -> None:
    """Refuse stimuli smaller than :data:`MIN_JUDGEABLE_SIZE` unless ``allow_small_stimuli``."""
    if opts.size < MIN_JUDGEABLE_SIZE and not opts.allow_small_stimuli:
        raise ValueError(
            f"--size {opts.size}: stimuli below {MIN_JUDGEABLE_SIZE} px cannot be judged by a dermatologist "
            f"(pigment network, dots and streaks are a few pixels wide), so the study would measure the "
            f"display, not the generator. Sources must be {opts.min_source_scale:g}x --size, so use a "
            f"generator of at least {int(MIN_JUDGEABLE_SIZE * opts.min_source_scale)} px (and real images "
            "as large); pass --allow-small-stimuli only for a demo or a test"
        )


def synthetic_seed_status(directory: Path, df: pd.DataFrame, public_ok: bool) -> str:
    """``secret`` (drawn by :func:`.synthetic.secret_seeds`), ``none`` (no seed column: unknown origin)
    or ``public`` (accepted only with ``public_ok``; otherwise a ValueError says why and what to do)."""
    from dermsynth.survey.synthetic import SECRET_MARK

    seeds = pd.to_numeric(df["seed"], errors="coerce") if "seed" in df.columns else pd.Series(dtype=float)
    if (directory / SECRET_MARK).exists():
        return "secret"
    if not seeds.notna().any():
        return "none"
    if not public_ok:
        raise ValueError(
            f"{directory / 'manifest.csv'}: the synthetic images come from seeds "
            f"{int(seeds.min())}..{int(seeds.max())} (column 'seed') that were not drawn in secret. Anyone "
            "with the generator regenerates those seeds, runs them through the study's processing chain "
            "and matches every synthetic stimulus, and so its label. Build with --generator NETWORK "
            "(secret random seeds, kept in stimuli.csv), or pass --public-synthetic-seeds to accept this"
        )
    return "public"


#: Image ids of the ISIC Archive (public, searchable by anyone).
_ISIC_ID = r"^ISIC_\d{7}"
#: What an open licence or a public archive looks like in a ``license`` / ``attribution`` column.
_OPEN_LICENCE = r"\bCC[- ]?(?:0|BY)|creative commons|public domain|\bISIC\b"


def public_real_reason(directory: Path, df: pd.DataFrame) -> str | None:
    """Why the real images of ``directory`` are public (a reader could look them up), or None."""
    from dermsynth.data.sample import SAMPLES_DIR

    ids = df["image_id"].astype(str)
    if (directory / "LICENSE.txt").exists() and "ISIC" in (directory / "LICENSE.txt").read_text(
        errors="replace"
    ):
        return f"{directory} is the embedded ISIC sample shipped with dermsynth (CC-0, ISIC Archive)"
    if str(directory.resolve()).startswith(str(SAMPLES_DIR)):
        return f"{directory} is an embedded sample shipped with dermsynth"
    n = int(ids.str.match(_ISIC_ID).sum())
    if n:
        return f"{n} of {len(ids)} real images have ISIC Archive ids (public: anyone can search the archive)"
    for col in ("license", "attribution"):
        if col in df.columns and df[col].astype(str).str.contains(_OPEN_LICENCE, case=False).any():
            return f"{directory / 'manifest.csv'}: its {col!r} column says the images are openly licensed"
    return None


def load_pool(
    directory: str | Path,
    source: str,
    exclude: tuple[str, ...] = (),
    unknown: str = "drop",
    public_seeds: bool = False,
    covered: Callable[[str], bool] | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Candidate images of one dataset (columns ``key, path, label (0/1), origin, source``) with the
    exclusions applied, and per excluded column the counts ``{present, unknown, absent, removed}``.

    An annotation that is blank or not a number is *unknown*, not "absent": with ``unknown="drop"``
    (the default) such images are left out too, because an unannotated real image may well show
    the artifact (a ruler) that no synthetic image has.
    """
    if unknown not in ("drop", "keep"):
        raise ValueError(f"--unknown must be drop or keep, got {unknown!r}")
    directory = Path(directory)
    df = read_manifest(directory)
    if source == "synthetic":
        synthetic_seed_status(directory, df, public_seeds)
    counts: dict[str, dict[str, int]] = {}
    for col in exclude:
        if col not in df.columns and covered is not None and covered(col):
            continue  # the build audits it itself (survey.audit), there is nothing to read
        if col not in df.columns:
            raise ValueError(
                f"{directory / 'manifest.csv'}: cannot exclude {col!r}, the manifest has no such column "
                "and the build's audit does not detect it (run `dermsynth bias audit` first)"
            )
        flags = pd.to_numeric(df[col], errors="coerce")
        present, unk = flags.fillna(0) != 0, flags.isna()
        drop = present | unk if unknown == "drop" else present
        counts[col] = {
            "present": int(present.sum()),
            "unknown": int(unk.sum()),
            "absent": int((~present & ~unk).sum()),
            "removed": int(drop.sum()),
        }
        df = df[~drop]
    labels = pd.to_numeric(df["label"], errors="coerce")
    bad = df.index[~labels.isin([0, 1])]
    if len(bad):
        raise ValueError(f"{directory / 'manifest.csv'}: label must be 0 or 1 (row {int(bad[0]) + 2})")
    pool = pd.DataFrame(
        {
            "key": df["image_id"].astype(str).to_numpy(),
            "path": [str(directory / f) for f in df["file"]],
            "label": labels.astype(int).to_numpy(),
            "origin": [f"{directory.name}/{i}" for i in df["image_id"].astype(str)],
            "source": source,
            "seed": pd.to_numeric(df["seed"], errors="coerce").astype("Int64").to_numpy()
            if source == "synthetic" and "seed" in df.columns
            else pd.array([pd.NA] * len(df), dtype="Int64"),
        }
    )
    return pool, counts


def outlier_scores(embeddings_csv: str | Path, pool: pd.DataFrame) -> pd.Series:
    """Per synthetic image (pool ``key``), its distance to its class centroid (thesis Fig. 3.7).

    Uses a precomputed distance column of ``classify embed`` when present (see ``DISTANCE_COLUMNS``),
    otherwise the Euclidean distance of the numeric embedding columns to the class mean.
    """
    path = Path(embeddings_csv)
    emb = pd.read_csv(path, dtype={"image_id": str})
    if "image_id" not in emb.columns:
        raise ValueError(f"{path}: embeddings csv needs an image_id column")
    emb = emb[emb["image_id"].isin(set(pool["key"]))].set_index("image_id")
    if emb.empty:
        raise ValueError(f"{path}: no image_id matches the synthetic manifest")
    for col in DISTANCE_COLUMNS:
        if col in emb.columns:
            return pd.to_numeric(emb[col], errors="coerce").dropna()
    feats = emb[[c for c in emb.select_dtypes("number").columns if c.lower() not in _NON_FEATURE]]
    if feats.shape[1] == 0:
        raise ValueError(
            f"{path}: neither a distance column {DISTANCE_COLUMNS} nor numeric embedding columns"
        )
    labels = pool.set_index("key").loc[feats.index, "label"]
    centroids = feats.groupby(labels.to_numpy()).transform("mean")
    return pd.Series(np.linalg.norm(feats.to_numpy() - centroids.to_numpy(), axis=1), index=feats.index)


def _ordered_candidates(
    cell: pd.DataFrame, seed: int, tag: str, n_outliers: int, scores: pd.Series | None
) -> pd.DataFrame:
    """Candidates of one (source, class) cell in pick order: top outliers first, then a seeded shuffle."""
    perm = cell.iloc[rng(seed, "select", tag).permutation(len(cell))]
    if scores is None or n_outliers == 0:
        return perm.assign(outlier=0)
    s = perm["key"].map(scores)
    top = perm.loc[s.sort_values(ascending=False, kind="stable").dropna().index[:n_outliers]]
    rest = perm.drop(index=top.index)
    return pd.concat([top.assign(outlier=1), rest.assign(outlier=0)])


def _encode_cell(
    ordered: pd.DataFrame,
    k: int,
    opts: BuildOptions,
    skipped: list[str],
    too_small: list[str],
    audit=None,
    audited: list[str] | None = None,
) -> list[tuple[pd.Series, bytes]]:
    """Encode candidates in order until ``k`` succeed; unreadable and too small images are recorded,
    and so are those the build's own audit (``audit.found``, at the source resolution) excludes."""
    out: list[tuple[pd.Series, bytes]] = []
    for _, row in ordered.iterrows():
        if len(out) == k:
            break
        try:
            rgb = read_rgb(row["path"])
            found = audit.found(rgb) if audit is not None else []
            if found:
                if audited is not None:
                    audited.append(f"{row['source']}\t{row['path']}\t{','.join(found)}")
                continue
            out.append((row, encode_stimulus(rgb, opts.size, opts.min_source_scale)))
        except SourceTooSmall as e:
            too_small.append(f"{row['path']}: {e}")
        except (ValueError, OSError) as e:
            skipped.append(f"{row['path']}: {e}")
    return out


def _secret_ids(count: int) -> list[str]:
    """``count`` distinct 16-hex-digit ids from the operating system's CSPRNG (never from the seed)."""
    ids: set[str] = set()
    while len(ids) < count:
        ids.add(secrets.token_hex(8))
    out = list(ids)
    secrets.SystemRandom().shuffle(out)
    return out


def _secret_shuffle(items: list) -> list:
    """A copy of ``items`` in an order nobody can reproduce (selection order leaves no trace)."""
    out = list(items)
    secrets.SystemRandom().shuffle(out)
    return out


def select_and_encode(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    opts: BuildOptions,
    scores: pd.Series | None = None,
    progress: Callable[[int], None] | None = None,
    too_small: list[str] | None = None,
    audit=None,
    audited: list[str] | None = None,
) -> tuple[list[tuple[pd.Series, bytes]], list[tuple[pd.Series, bytes]], list[str]]:
    """Balanced stimuli (n/4 per source x class) and real examples per class, all encoded."""
    if opts.n <= 0 or opts.n % 4:
        raise ValueError(f"--n must be a positive multiple of 4 (balanced source x class), got {opts.n}")
    if not 0.0 <= opts.outlier_frac <= 1.0:
        raise ValueError(f"--outlier-frac must be in [0, 1], got {opts.outlier_frac}")
    if opts.min_source_scale <= 0:
        raise ValueError(f"--min-source-scale must be positive, got {opts.min_source_scale}")
    k, skipped = opts.n // 4, []
    too_small = [] if too_small is None else too_small
    stimuli, examples = [], []
    for source, pool in (("real", real), ("synthetic", synthetic)):
        for label in (0, 1):
            cell = pool[pool["label"] == label]
            n_out = int(round(opts.outlier_frac * k)) if source == "synthetic" else 0
            order = _ordered_candidates(cell, opts.seed, f"{source}/{label}", n_out, scores)
            n_small = len(too_small)
            got = _encode_cell(order, k, opts, skipped, too_small, audit, audited)
            if len(got) < k:
                small = len(too_small) - n_small
                hint = (
                    f"; {small} were smaller than {opts.min_source_scale:g} x --size {opts.size} "
                    f"(lower --size, or ingest larger sources)"
                    if small
                    else ""
                )
                n_audit = sum(1 for a in (audited or []) if a.startswith(f"{source}\t"))
                raise ValueError(
                    f"{source} {LABELS[label]}: need {k} usable images, found {len(got)} "
                    f"(of {len(cell)} after exclusions; the build's audit dropped {n_audit} {source} "
                    f"images so far){hint}"
                )
            stimuli += got
            if progress:
                progress(len(got))
            if source == "real" and opts.examples_per_class:
                used = {r["key"] for r, _ in got}
                rest = order[~order["key"].isin(used)]
                examples += _encode_cell(
                    rest.iloc[::-1], opts.examples_per_class, opts, skipped, too_small, audit, audited
                )
    return stimuli, examples, skipped


def _pool_info(directory: Path) -> dict | None:
    """How a secret pool was made (network, truncation; never the seeds), or None."""
    from dermsynth.survey.synthetic import SECRET_MARK

    p = directory / SECRET_MARK
    return json.loads(p.read_text()) if p.exists() else None


def _write_images(folder: Path, items: list[tuple[str, bytes]], mtime: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for image_id, data in sorted(items):  # id order = random order; no trace of selection order
        path = folder / f"{image_id}.png"
        atomic_write_bytes(path, data)
        os.utime(path, (mtime, mtime))


def build_study(
    real_dir: str | Path,
    synthetic_dir: str | Path,
    out: str | Path,
    opts: BuildOptions = BuildOptions(),
    embeddings: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> BuildResult:
    """Build a study directory at ``out`` (must not exist or be empty); raise if it would leak."""
    from dermsynth.survey.leakcheck import leakcheck

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: exists and is not empty (a study is never overwritten)")
    check_judgeable_size(opts)
    if opts.pixel_leaks not in ("fail", "warn"):
        raise ValueError(f"--pixel-leaks must be fail or warn, got {opts.pixel_leaks!r}")
    audit = _exclusion_audit(opts)
    covered = audit.covers if audit is not None else None
    real, real_excl = load_pool(real_dir, "real", opts.exclude, opts.unknown, covered=covered)
    synthetic, syn_excl = load_pool(
        synthetic_dir, "synthetic", opts.exclude, opts.unknown, opts.public_synthetic_seeds, covered
    )
    seed_status = synthetic_seed_status(
        Path(synthetic_dir), read_manifest(synthetic_dir), opts.public_synthetic_seeds
    )
    warnings = []
    reason = public_real_reason(Path(real_dir), read_manifest(real_dir))
    if reason:
        warnings.append(
            f"the real images are public ({reason}): a reader could look a stimulus up (reverse image "
            "search, the archive itself) and so know it is real. Use real images that are not public "
            "for a study whose result matters"
        )
    if seed_status == "public":
        warnings.append(
            "the synthetic images come from public seeds (--public-synthetic-seeds): a reader with the "
            "generator could regenerate them and match every synthetic stimulus"
        )
    elif seed_status == "none":
        warnings.append(
            f"{Path(synthetic_dir) / 'manifest.csv'} records no seeds: if these images come from public "
            "seeds of a public generator, a reader could regenerate and match them (build with --generator "
            "for secret seeds)"
        )
    scores = outlier_scores(embeddings, synthetic) if embeddings and opts.outlier_frac > 0 else None
    too_small: list[str] = []
    audited: list[str] = []
    stimuli, examples, skipped = select_and_encode(
        real, synthetic, opts, scores, progress, too_small, audit, audited
    )
    for source, excl in (("real", real_excl), ("synthetic", syn_excl)):
        dropped = [a.split("\t") for a in audited if a.startswith(f"{source}\t")]
        excl["build_audit"] = {
            "method": opts.audit,
            "resolution": "source (each file as it is)",
            "dropped": len(dropped),
            "by_artifact": {
                a: sum(a in d[2].split(",") for d in dropped)
                for a in sorted({x for d in dropped for x in d[2].split(",")})
            },
        }

    # ids: fresh secret randomness, handed out after a secret shuffle (never a function of the seed)
    stimuli, examples = _secret_shuffle(stimuli), _secret_shuffle(examples)
    ids = _secret_ids(len(stimuli) + len(examples))
    stim_ids, ex_ids = ids[: len(stimuli)], ids[len(stimuli) :]
    tmp = out.parent / f".{out.name}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    mtime = float(int(time.time()))
    _write_images(tmp / IMAGES_DIR, [(i, d) for i, (_, d) in zip(stim_ids, stimuli, strict=True)], mtime)
    _write_images(tmp / EXAMPLES_DIR, [(i, d) for i, (_, d) in zip(ex_ids, examples, strict=True)], mtime)

    table = pd.DataFrame(
        {
            "image_id": stim_ids,
            "source": [r["source"] for r, _ in stimuli],
            "label": [LABELS[int(r["label"])] for r, _ in stimuli],
            "origin": [r["origin"] for r, _ in stimuli],
            "outlier": [int(r["outlier"]) for r, _ in stimuli],
            # the truth: a synthetic stimulus's secret seed (regenerates it); admin only, never served
            "seed": pd.array([r["seed"] for r, _ in stimuli], dtype="Int64"),
        }
    ).sort_values("image_id")
    write_stimuli(tmp, table)  # survey/responses.py
    meta = {
        "study_id": opts.study_id or f"study-{secrets.token_hex(4)}",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": opts.size,
        "format": "png",
        "real": str(Path(real_dir).resolve()),
        "synthetic": str(Path(synthetic_dir).resolve()),
        "embeddings": str(embeddings) if embeddings else None,
        "options": asdict(opts),
        "examples": [
            {"id": i, "label": LABELS[int(r["label"])]}
            for i, (r, _) in sorted(zip(ex_ids, examples, strict=True))
        ],
        "skipped": skipped,
        "too_small": too_small,
        "exclusions": {"unknown": opts.unknown, "real": real_excl, "synthetic": syn_excl},
        "audit_dropped": [a.replace("\t", " ") for a in audited],
        "synthetic_seeds": seed_status,  # secret | public | none (the seeds themselves: stimuli.csv)
        "synthetic_pool": _pool_info(Path(synthetic_dir)),
        "warnings": warnings,
        "processing": {
            "crop": "centre square",
            "resample": "lanczos (PIL, antialiased)",
            "min_source_scale": opts.min_source_scale,
            "jpeg_round_trip": {"quality": 95, "subsampling": "4:4:4"},
            "format": "PNG RGB8, zlib level 0",
        },
    }
    atomic_write_json(tmp / STUDY_JSON, meta)
    report = leakcheck(tmp, alpha=opts.leak_alpha, seed=opts.seed)
    atomic_write_json(tmp / LEAKCHECK_JSON, report)
    fatal = report["file_failures"] + (report["pixel_failures"] if opts.pixel_leaks == "fail" else [])
    if fatal:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(f"{out}: study not written, the leak check tells the sources apart: {fatal}")
    if out.exists():
        out.rmdir()
    os.replace(tmp, out)
    counts = table.groupby(["source", "label"]).size()
    return BuildResult(
        out,
        {f"{s}/{lbl}": int(c) for (s, lbl), c in counts.items()},
        skipped,
        report,
        too_small,
        {"real": real_excl, "synthetic": syn_excl},
        warnings,
    )


def describe(result: BuildResult) -> str:
    """One-paragraph summary of a build for the CLI."""
    return json.dumps(
        {
            "study": str(result.study_dir),
            "counts": result.counts,
            "skipped": len(result.skipped),
            "too_small": len(result.too_small),
            "exclusions": result.exclusions,
        }
    )


def build_study_from_generator(
    real_dir: str | Path,
    network: str | Path,
    out: str | Path,
    opts: BuildOptions = BuildOptions(),
    per_class: int | None = None,
    device: str | None = None,
    truncation_psi: float = 1.0,
    embed: Callable[[Path], Path] | None = None,
    progress: Callable[[int], None] | None = None,
) -> BuildResult:
    """Build a study whose synthetic stimuli come from secret random seeds of ``network``
    (:func:`.synthetic.generate_secret_pool`; the seeds end up in ``stimuli.csv`` only).

    ``per_class`` candidates per class (default three times the stimuli per class, room for exclusions
    and outliers) are generated in a sibling temporary folder that is deleted afterwards. ``embed(pool)``
    returns an embeddings csv of the pool for ``opts.outlier_frac`` > 0 (``classify embed``).
    """
    from dermsynth.survey.synthetic import generate_secret_pool

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: exists and is not empty (a study is never overwritten)")
    check_judgeable_size(opts)
    pool = out.parent / f".{out.name}.synthetic"
    shutil.rmtree(pool, ignore_errors=True)
    try:
        from dermsynth.core.distributed import device as pick_device

        dev = str(pick_device(device or opts.device))
        generate_secret_pool(network, pool, per_class or 3 * max(1, opts.n // 4), dev, truncation_psi)
        embeddings = embed(pool) if embed is not None and opts.outlier_frac > 0 else None
        return build_study(real_dir, pool, out, opts, embeddings, progress)
    finally:
        shutil.rmtree(pool, ignore_errors=True)
