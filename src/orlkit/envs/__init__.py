"""Built-in environments (Gymnasium API). Importing this package registers their gym ids."""

from orlkit.envs.driving import ENV_ID as DRIVING_ID
from orlkit.envs.driving import DrivingEnv
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
from orlkit.envs.notifications import ENV_ID as NOTIFICATIONS_ID
from orlkit.envs.notifications import NotificationConfig, NotificationEnv, NotificationPopulation
from orlkit.envs.pointmaze import ENV_ID as POINTMAZE_ID
from orlkit.envs.pointmaze import OraclePolicy, PointMaze, load_layout, make_pointmaze_dataset
from orlkit.envs.pusher import ENV_ID as PUSHER_ID
from orlkit.envs.pusher import PusherEnv

__all__ = [
    "DRIVING_ID", "DrivingEnv", "GRIDWORLD_ID", "GridWorld", "NOTIFICATIONS_ID", "NotificationConfig",
    "NotificationEnv", "NotificationPopulation", "OraclePolicy", "POINTMAZE_ID", "PUSHER_ID", "PointMaze",
    "PusherEnv", "allowed_actions", "behavior_policy", "greedy", "load_layout", "make_gridworld_dataset",
    "make_pointmaze_dataset", "policy_evaluation", "value_iteration"
]
