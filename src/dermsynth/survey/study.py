"""A built study directory and what the app may know of it.

Layout written by :func:`dermsynth.survey.build.build_study`::

    STUDY/study.json      study_id, size, format, examples [{id, label}], build options, exclusion
                          counts, processing chain
    STUDY/images/ID.png   the stimuli, one processing chain, secret random ids
    STUDY/examples/ID.png real example lesions per class (not in the question set)
    STUDY/stimuli.csv     image_id, source, label, origin, outlier, seed  (admins only, never served;
                          columns, writer and reader: survey/responses.py)
    STUDY/leakcheck.json  the file- and pixel-level leak check of the build
    STUDY/study.db        the default SQLite database of ``survey serve``
    STUDY/database.json   which database holds the answers (written when it is created, used by
                          every command; :func:`dermsynth.survey.db.study_db_url`)

The app reads only image ids from ``stimuli.csv``; source and label reach readers in no form.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from dermsynth.survey.responses import STIMULI_CSV

STUDY_JSON = "study.json"
IMAGES_DIR = "images"
EXAMPLES_DIR = "examples"
LEAKCHECK_JSON = "leakcheck.json"
DEFAULT_DB = "study.db"
#: Where the study's answers are (a database URL without password), see ``survey.db.study_db_url``.
DATABASE_JSON = "database.json"
LABELS = ["not_melanoma", "melanoma"]
SOURCES = ["real", "synthetic"]
#: Opaque ids are lowercase hex; anything else in a URL is rejected before touching the disk.
ID_PATTERN = re.compile(r"^[0-9a-f]{8,64}$")


@dataclass(frozen=True)
class Study:
    """What the app needs: ids of stimuli and examples (with example labels), and where the files are."""

    root: Path
    study_id: str
    image_ids: tuple[str, ...]
    examples: tuple[tuple[str, str], ...]  # (example id, label name); all examples are real lesions
    size: int

    def image_path(self, image_id: str) -> Path | None:
        """Path of a stimulus, or None if ``image_id`` is not one (never a path from user input)."""
        if not ID_PATTERN.match(image_id) or image_id not in self._image_set:
            return None
        return self.root / IMAGES_DIR / f"{image_id}.png"

    def example_path(self, example_id: str) -> Path | None:
        if not ID_PATTERN.match(example_id) or example_id not in self._example_set:
            return None
        return self.root / EXAMPLES_DIR / f"{example_id}.png"

    @cached_property
    def _image_set(self) -> frozenset[str]:
        return frozenset(self.image_ids)

    @cached_property
    def _example_set(self) -> frozenset[str]:
        return frozenset(e for e, _ in self.examples)


def load_study(root: str | Path) -> Study:
    """Read ``study.json`` and the stimulus ids of a built study; clear error if it is not one."""
    root = Path(root)
    meta_p, stim_p = root / STUDY_JSON, root / STIMULI_CSV
    for p in (meta_p, stim_p):
        if not p.exists():
            raise FileNotFoundError(f"{p}: missing (build the study with `dermsynth survey build`)")
    meta = json.loads(meta_p.read_text())
    ids = pd.read_csv(stim_p, dtype=str)["image_id"].tolist()
    bad = [i for i in ids if not ID_PATTERN.match(str(i))]
    if bad:
        raise ValueError(f"{stim_p}: image ids must be lowercase hex, got {bad[:3]}")
    missing = [i for i in ids if not (root / IMAGES_DIR / f"{i}.png").exists()]
    if missing:
        raise FileNotFoundError(f"{root / IMAGES_DIR}: {len(missing)} stimuli missing, e.g. {missing[0]}.png")
    examples = tuple((str(e["id"]), str(e["label"])) for e in meta.get("examples", []))
    return Study(root, str(meta["study_id"]), tuple(sorted(ids)), examples, int(meta["size"]))


def read_stimuli(root: str | Path) -> pd.DataFrame:
    """The admin-only stimulus table of a study."""
    return pd.read_csv(Path(root) / STIMULI_CSV, dtype=str)
