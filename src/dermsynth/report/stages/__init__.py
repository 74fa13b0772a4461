"""One module per stage of the study; each turns that stage's files into a section, a summary card and
plain sentences (``build(ctx) -> StageReport``)."""
