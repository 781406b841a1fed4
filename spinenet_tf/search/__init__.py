"""Scale-permuted architecture search on a proxy task (`spinenet-search`)."""

from spinenet_tf.search.block_spec_moves import mutate_block_specs, sample_block_specs
from spinenet_tf.search.evolution import BudgetError, MacBudget, propose
from spinenet_tf.search.proxy_task import ProxyData, ProxySettings, ProxyTask
from spinenet_tf.search.space import SearchSpace, block_specs_to_yaml, load_block_specs
from spinenet_tf.search.trial_log import TrialLog

__all__ = ["BudgetError", "MacBudget", "ProxyData", "ProxySettings", "ProxyTask",
           "SearchSpace", "TrialLog", "block_specs_to_yaml", "load_block_specs",
           "mutate_block_specs", "propose", "sample_block_specs"]
