"""``orlkit demo quickstart``: CQL, DDQN and BC on cartpole-medium, one seed, then a result table."""

from __future__ import annotations

from orlkit.demos.classic import main as classic_main


def main(json_output: bool = False, seeds: int = 1, progress: bool = True) -> int:
    return classic_main(json_output=json_output, seeds=seeds, progress=progress, steps=5_000,
                        jobs={"cartpole-medium": ("cql", "ddqn", "bc")})
