"""Built-in environments (Gymnasium API). Importing this package registers their gym ids."""

from orlkit.envs.gridworld import ENV_ID as GRIDWORLD_ID
from orlkit.envs.gridworld import (
    GridWorld,
    allowed_actions,
    behavior_policy,
    greedy,
    make_gridworld_dataset,
    policy_evaluation,
    value_iteration,
)

__all__ = ["GRIDWORLD_ID", "GridWorld", "allowed_actions", "behavior_policy", "greedy",
           "make_gridworld_dataset", "policy_evaluation", "value_iteration"]
