"""The build's own audit of excluded artifacts, on every image it considers, at the source
resolution (issue 25.4).

``--exclude ruler`` used to trust the manifest's ``ruler`` column, whatever made it: a study built from
annotations of a 64 px copy kept 22 real stimuli (of 100) that the shipped audit flags as ``ruler`` at
128 px, 9 or more showing ruler ticks. Now the build audits each candidate as it reads it — the file
itself, not a smaller copy — with the same method as ``dermsynth bias audit`` (default ``best``: the
shipped ``isic2017-artifacts`` model where it beat the heuristics, the heuristics elsewhere) and drops
it when the audit or the manifest says the artifact is there. ``sticker`` (coloured stickers and
calibration patches, :mod:`.stickers`) is audited the same way; no manifest column is needed for it.
"""

from __future__ import annotations

import numpy as np

from dermsynth.survey.stickers import has_sticker

#: Artifacts only this module detects (no manifest column needed), with their accepted spellings.
OWN_ARTIFACTS = {
    "sticker": "sticker",
    "stickers": "sticker",
    "patches": "sticker",
    "calibration_patch": "sticker",
}


class ExclusionAudit:
    """Decides, image by image, which of ``artifacts`` it shows (``method``: heuristic, best[:PATH],
    model:PATH, or none to trust the manifest alone)."""

    def __init__(self, artifacts: tuple[str, ...], method: str = "best", device: str = "cpu"):
        from dermsynth.bias.registry import ALIASES, DETECTORS

        self.method = method
        names = {ALIASES.get(a, a) for a in artifacts}
        self.sticker = method != "none" and any(OWN_ARTIFACTS.get(a) == "sticker" for a in artifacts)
        self.known = sorted(a for a in names if a in DETECTORS) if method != "none" else []
        self.model = self.meta = None
        self.decisions = {}
        if self.known:
            from dermsynth.bias.audit import decisions, parse_method
            from dermsynth.bias.model import load_model

            m = parse_method(method)
            if m.model is not None:
                self.model, self.meta = load_model(m.model, device)
            self.decisions = {a: d for a, d in decisions(m, self.meta).items() if a in self.known}
            # a detector the audit model leaves out (below its F1 goal) does not decide: the manifest must
            self.known = sorted(self.decisions)

    def covers(self, artifact: str) -> bool:
        """Whether this audit decides ``artifact`` itself (then a manifest column is optional)."""
        from dermsynth.bias.registry import ALIASES

        a = ALIASES.get(artifact, artifact)
        return a in self.known or (self.sticker and OWN_ARTIFACTS.get(artifact) == "sticker")

    def found(self, rgb: np.ndarray) -> list[str]:
        """The excluded artifacts this image (at its own resolution) shows."""
        out: list[str] = []
        if self.known:
            from dermsynth.bias.registry import scores

            heur = scores(rgb, self.known)
            prob = None
            if self.model is not None and any(d.source == "model" for d in self.decisions.values()):
                from dermsynth.bias.model import predict_proba

                p = predict_proba(
                    self.model, [rgb], self.meta["image_size"], tta=self.meta.get("tta", False)
                )[0]
                prob = dict(zip(self.meta["artifacts"], p, strict=True))
            for a, d in self.decisions.items():
                s = heur[a] if d.source == "heuristic" or prob is None else float(prob[a])
                if s >= d.threshold:
                    out.append(a)
        if self.sticker and has_sticker(rgb):
            out.append("sticker")
        return out
