"""Learned rewards: goal classifiers, adversarial rewards (GAIL/AIRL), preferences (Bradley–Terry)."""
