"""The fit loop, evaluation, logging and checkpoints."""
