"""Masks found automatically: stabilisation borders, dust and dirt, line scratches."""
