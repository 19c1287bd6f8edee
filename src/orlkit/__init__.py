"""orlkit: offline RL and reward learning from data that already exists."""

from orlkit.data.dataset import Batch, TransitionDataset
from orlkit.errors import DatasetError, OrlkitError

__version__ = "0.1.0"
__all__ = ["Batch", "DatasetError", "OrlkitError", "TransitionDataset", "__version__"]
