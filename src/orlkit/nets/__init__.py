"""Networks shared by every algorithm: MLPs and the heads built on them."""

from orlkit.nets.mlp import mlp

__all__ = ["mlp"]
