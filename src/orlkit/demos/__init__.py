"""Runnable demonstrations of the lecture's claims (``orlkit demo NAME``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def report(results: dict[str, Any], table: Callable[[dict[str, Any]], str], json_output: bool,
           plot: Callable[[dict[str, Any], str], None] | None = None, plot_path: str | None = None) -> int:
    """Save the figure (with ``plot_path``), then print the results as JSON or as the demo's table."""
    if plot_path and plot is not None:
        plot(results, plot_path)
    print(json.dumps(results) if json_output else table(results))
    return 0
