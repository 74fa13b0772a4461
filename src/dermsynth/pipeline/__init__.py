"""`dermsynth run`: the whole study as a chain of stages, each a run directory, skipped when unchanged."""

from dermsynth.pipeline.runner import run_pipeline

__all__ = ["run_pipeline"]
