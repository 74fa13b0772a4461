"""Reader study: "real or synthetic?" (thesis Sec. 3.6 / 4.4, Rosén & Zoubi 2022).

Stages: :mod:`.build` makes a blinded study directory (balanced seeded selection, one processing
chain for every stimulus, secret random ids), :mod:`.leakcheck` shows that neither file nor pixel
statistics tell real from synthetic, :mod:`.app` serves it (FastAPI, SQLAlchemy), :mod:`.analyze`
turns ``responses.csv`` + ``stimuli.csv`` into the thesis tables and figures plus the statistics it
could not state. Nothing happens at import time.
"""
