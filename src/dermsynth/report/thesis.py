"""The thesis's figures and tables that dermsynth reproduces (Rosén & Zoubi 2022), by number.

For each: what it shows, the report section it belongs to, and the file a stage writes for it. After the
sections are built, :func:`place` finds each number among their figures and tables; a number that is
missing gets one line in its section saying why (the stage did not run, or its output lacks the file),
and the page's index lists every number with a link or that line.
"""

from __future__ import annotations

from dataclasses import dataclass

from dermsynth.report.html import Absent, Block, Figure, Section, Table, anchor, esc, prose


@dataclass(frozen=True)
class Entry:
    number: str
    what: str
    section: str
    needs: str  # the file (and command) that provides it


CATALOGUE = [
    Entry("Fig. 3.3", "Images per class", "data", "a dataset's manifest.csv (and `dermsynth data stats`)"),
    Entry(
        "Fig. 3.4",
        "Examples of each artifact",
        "data",
        "audit/examples_<artifact>.png of `dermsynth bias audit`",
    ),
    Entry(
        "Fig. 3.5",
        "Artifact prevalence per class",
        "data",
        "artifact columns in manifest.csv (`dermsynth bias audit`)",
    ),
    Entry(
        "Fig. 3.7",
        "Embeddings of real and generated images",
        "classify",
        "pca.png of `dermsynth classify embed`",
    ),
    Entry(
        "Fig. 4.1",
        "Frames removed by cropping, before / after",
        "clean",
        "figures/before_after_frame.png of `dermsynth clean --method crop`",
    ),
    Entry(
        "Fig. 4.2",
        "Frames removed by in-painting, before / after",
        "clean",
        "figures/before_after_frame.png of `dermsynth clean` with an in-painting method",
    ),
    Entry(
        "Fig. 4.3",
        "Hair removed, before / after",
        "clean",
        "figures/before_after_hair.png of `dermsynth clean --also-hair`",
    ),
    Entry(
        "Figs. 4.4-4.7",
        "Generated samples per class",
        "gan",
        "a generated set (`dermsynth gan generate`) or fakes*.png of a GAN run",
    ),
    Entry(
        "Table 4.2",
        "FID, KID, precision / recall, PPL per network",
        "metrics",
        "metrics.json of `dermsynth metrics`",
    ),
    Entry(
        "Fig. 4.8",
        "Edit strip along an SVM direction",
        "edit",
        "best_strip.png of `dermsynth edit evaluate` on svm directions",
    ),
    Entry(
        "Fig. 4.9",
        "Edit strip along a PCA direction",
        "edit",
        "best_strip.png of `dermsynth edit evaluate` on pca directions",
    ),
    Entry(
        "Fig. 4.10",
        "Edit strip along a SeFa direction",
        "edit",
        "best_strip.png of `dermsynth edit evaluate` on sefa directions",
    ),
    Entry(
        "Tables 4.3/4.4",
        "Readers' answers and their accuracy, sensitivity, specificity",
        "survey",
        "readers.csv of `dermsynth survey analyze`",
    ),
    Entry(
        "Fig. 4.11",
        "Readers right per image, real and synthetic",
        "survey",
        "fig4_11*.png of `dermsynth survey analyze`",
    ),
    Entry(
        "Figs. 4.12-4.14",
        "Images every reader agreed on",
        "survey",
        "grid_*.png of `dermsynth survey analyze --images` (needs the study's images)",
    ),
    Entry("Fig. 4.15", "Readers' certainty", "survey", "fig4_15_certainty.png of `dermsynth survey analyze`"),
    Entry(
        "Fig. 4.16",
        "Readers' diagnoses on real vs generated images",
        "survey",
        "fig4_16_diagnosis_confusion.png",
    ),
    Entry(
        "Table 4.5",
        "Classifiers trained on real, synthetic, mixed data: AUC with CIs",
        "classify",
        "table.csv of `dermsynth classify run`",
    ),
    Entry("Fig. 4.17", "ROC curves of those classifiers", "classify", "roc.png of `dermsynth classify run`"),
]


def _matches(item_number: str, number: str) -> bool:
    return item_number == number or item_number.startswith(number + " ")


def _why(entry: Entry, sec: Section) -> str:
    if sec.lead:
        return sec.lead
    if entry.section == "survey" and not any(b.title.startswith("Answers analysed") for b in sec.blocks):
        return "no responses analysed yet: the study is built; `dermsynth survey analyze` makes this from the answers."
    if entry.number in ("Fig. 4.8", "Fig. 4.9", "Fig. 4.10") and sec.blocks:
        return f"not in this study: no edit folder with {entry.what.split()[-2]} directions and a best_strip.png."
    return f"not in this study: the stage ran but wrote no {entry.needs}."


def place(sections: list[Section]) -> list[tuple[str, str, str]]:
    """Add an :class:`Absent` line for each missing number to its section; return the index rows
    ``(number, what it shows, html of where it is or why it is not)``."""
    by_key = {s.key: s for s in sections}
    rows = []
    for e in CATALOGUE:
        sec = by_key.get(e.section)
        hits = [
            (s, it)
            for s in sections
            for b in s.blocks
            for it in b.items
            if isinstance(it, Figure | Table) and _matches(it.number, e.number)
        ]
        if hits:
            links = ", ".join(
                f"<a href='#{anchor(it.number)}'>{esc(it.number)}</a> in <a href='#{s.key}'>{esc(s.title)}</a>"
                + (f" ({esc(it.source)})" if it.source else "")
                for s, it in hits[:4]
            )
            rows.append((e.number, e.what, links))
            continue
        why = _why(e, sec) if sec is not None else "not in this study."
        if sec is not None:
            gap = next((b for b in sec.blocks if b.title == "Not in this study"), None)
            if gap is None:
                gap = Block("Not in this study")
                sec.blocks.append(gap)
            gap.items.append(Absent(e.number, e.what, why))
        rows.append((e.number, e.what, prose(why[0].upper() + why[1:])))
    return rows
