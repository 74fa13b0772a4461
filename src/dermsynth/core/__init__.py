"""Shared foundations: atomic I/O, manifest schema, configs, seeding, stats, distributed, paths."""
