"""One figure per file; each takes data already read from run files and writes a PNG (matplotlib Agg)."""
