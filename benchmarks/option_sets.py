"""The benchmarks' ``--set OPTION=VALUE`` arguments as flowfill.Options fields."""

from __future__ import annotations

import json
from typing import Any


def option_sets(items: list[str]) -> dict[str, Any]:
    """``OPTION=VALUE`` texts as a dict; a value is read as JSON where it parses (numbers,
    true/false, null), else kept as the text."""
    fields: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            fields[key] = json.loads(value)
        except json.JSONDecodeError:
            fields[key] = value
    return fields
