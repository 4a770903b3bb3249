"""Old import path of experiment configs and their keys (kept for existing code):
``results.keys`` (``config_key``, ``config_to_dict``) and ``experiments.registry``
(``experiment_config``, ``config_from_dict``, ``CONFIG_KINDS``)."""

from .experiments.registry import CONFIG_KINDS, config_from_dict, experiment_config  # noqa: F401
from .results.keys import config_key, config_to_dict  # noqa: F401

__all__ = ["experiment_config", "config_key", "config_to_dict", "config_from_dict", "CONFIG_KINDS"]
