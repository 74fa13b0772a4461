"""`dermsynth run`: the whole study as a chain of stages, each a run directory, skipped when unchanged.

Public API: :func:`load_study_config` (preset + YAML, every key checked), :func:`resolved_study`
(every stage's configs, written to ``OUT/config.json``), :func:`run_pipeline` with :data:`STAGES`.
The pipeline builds the same frozen configs the CLI builds and calls the same library functions;
it never imports ``dermsynth.cli``.
"""

from dermsynth.pipeline.config import load_study_config, resolved_study
from dermsynth.pipeline.runner import run_pipeline
from dermsynth.pipeline.stages import STAGES

__all__ = ["STAGES", "load_study_config", "resolved_study", "run_pipeline"]
