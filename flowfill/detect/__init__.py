"""Masks found automatically: stabilisation borders (and later dust and scratches)."""
