"""orlkit's environment-variable switches (``ORLKIT_FLUSH_DENORMAL``, ``ORLKIT_MALLOC_TUNING``,
``ORLKIT_ALLOW_SLOW_BF16``), read one way: unset or blank means the default; ``0``, ``false``, ``no`` or ``off``
(any case) means off; anything else means on."""

from __future__ import annotations

import os

OFF_WORDS = ("0", "false", "no", "off")


def env_switch(name: str, default: bool) -> bool:
    """Whether the switch ``name`` is on (see the module docstring)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in OFF_WORDS
