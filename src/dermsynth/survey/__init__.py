"""Reader study: "real or synthetic?" (thesis Sec. 3.6 / 4.4, Rosén & Zoubi 2022).

Stages: :mod:`.build` makes a blinded study directory (balanced seeded selection, one processing
chain for every stimulus, secret random ids), :mod:`.leakcheck` shows that neither file nor pixel
statistics tell real from synthetic, :mod:`.app` serves it (FastAPI, SQLAlchemy), :mod:`.analyze`
turns ``responses.csv`` + ``stimuli.csv`` into the thesis tables and figures plus the statistics it
could not state. Nothing happens at import time.

Public API (loaded on first use, ``core.lazy``): :func:`build_study` (:class:`BuildOptions`),
:func:`create_app` (:class:`Settings`, :func:`check_public_url`), :func:`invite`, :func:`revoke`,
:func:`set_closed`, :func:`export`; the study's tables (``survey/responses.py``, pandas only):
:data:`RESPONSE_COLUMNS`, :data:`STIMULI_COLUMNS`, :func:`write_responses`, :func:`write_stimuli`,
:func:`read_responses`, :func:`read_stimuli_table` (:class:`TableError`). ``analyze`` and ``leakcheck`` are reached through their modules
(``dermsynth.survey.analyze.analyze``, ``dermsynth.survey.leakcheck.leakcheck``): a package attribute
of either name is the module.
"""

from __future__ import annotations

from dermsynth.core.lazy import lazy_getattr

_PUBLIC = {
    "BuildOptions": "dermsynth.survey.build",
    "build_study": "dermsynth.survey.build",
    "Settings": "dermsynth.survey.app",
    "check_public_url": "dermsynth.survey.app",
    "create_app": "dermsynth.survey.app",
    "export": "dermsynth.survey.service",
    "invite": "dermsynth.survey.service",
    "revoke": "dermsynth.survey.service",
    "set_closed": "dermsynth.survey.service",
    # the study's tables: columns, writers, readers (survey/responses.py; the report reads through these)
    "RESPONSES_CSV": "dermsynth.survey.responses",
    "REVISIONS_CSV": "dermsynth.survey.responses",
    "STIMULI_CSV": "dermsynth.survey.responses",
    "RESPONSE_COLUMNS": "dermsynth.survey.responses",
    "REVISION_COLUMNS": "dermsynth.survey.responses",
    "STIMULI_COLUMNS": "dermsynth.survey.responses",
    "TableError": "dermsynth.survey.responses",
    "read_responses": "dermsynth.survey.responses",
    "read_stimuli_table": "dermsynth.survey.responses",
    "responses_text": "dermsynth.survey.responses",
    "revisions_text": "dermsynth.survey.responses",
    "write_responses": "dermsynth.survey.responses",
    "write_revisions": "dermsynth.survey.responses",
    "write_stimuli": "dermsynth.survey.responses",
}

__all__ = sorted(_PUBLIC)

__getattr__ = lazy_getattr("dermsynth.survey", _PUBLIC)
