"""Typer command line: one module per stage; commands only parse arguments and call the stage."""
