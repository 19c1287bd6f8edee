"""Off-policy evaluation for discrete-action datasets: how good would policy π be, from data of μ?

Every estimator estimates V^π = E_{s_0 ~ D's episode starts} [Σ_t γ^t r_t] from a
:class:`~orlkit.data.dataset.TransitionDataset` and a target policy given as a function
``pi(obs (B, *obs_shape)) -> probs (B, A)``. The behavior propensities μ(a_t|s_t) come from
``dataset.extras["propensities"]`` when present, else from a behavior-cloning classifier.

- :func:`fqe` — fitted Q evaluation (model-based, no propensities);
- :func:`importance_sampling` — IS, WIS, PDIS, WPDIS;
- :func:`doubly_robust` — DR and WDR with a Q-model (FQE's by default);
- :func:`evaluate_policy` — all of them, with bootstrap standard errors.

Formulas, assumptions and measured accuracy: ``docs/ope.md``.
"""

from orlkit.ope.behavior import estimate_propensities, fit_behavior_policy
from orlkit.ope.common import Estimate, OffPolicyData, Policy, behavior_propensities, prepare
from orlkit.ope.doubly_robust import doubly_robust, dr_estimate, wdr_estimate
from orlkit.ope.evaluate import DESCRIPTIONS, ESTIMATORS, epsilon_greedy, evaluate_policy
from orlkit.ope.fqe import FQEResult, fqe
from orlkit.ope.importance import importance_sampling, is_estimate, pdis_estimate, wis_estimate, wpdis_estimate

__all__ = ["DESCRIPTIONS", "ESTIMATORS", "Estimate", "FQEResult", "OffPolicyData", "Policy", "behavior_propensities",
           "doubly_robust", "dr_estimate", "epsilon_greedy", "estimate_propensities", "evaluate_policy",
           "fit_behavior_policy", "fqe", "importance_sampling", "is_estimate", "pdis_estimate", "prepare",
           "wdr_estimate", "wis_estimate", "wpdis_estimate"]
