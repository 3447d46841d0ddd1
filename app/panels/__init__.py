"""Docked panels around the canvas: palette, inspector, problems (and quick-add)."""
