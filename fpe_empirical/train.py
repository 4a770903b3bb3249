"""Old import path of the trainer (``fpe_empirical.training``), kept for existing code.

``fpe_empirical.train`` names both this module (``from fpe_empirical.train import
TrainSettings``) and the function ``train`` (``fpe_empirical.train(model, X, y, ...)``, a
documented public name). Python binds a package attribute to a submodule once it is
imported, so the only way to keep both is a module that forwards calls to the function:
this legacy path is that module. New code imports ``fpe_empirical.training.trainer.train``.
"""

import sys
import types

from .training.backends import train_many  # noqa: F401
from .training.settings import TrainHistory, TrainSettings, l1_penalty, make_optimizer  # noqa: F401
from .training.trainer import train

__all__ = ["TrainSettings", "TrainHistory", "train", "train_many", "make_optimizer", "l1_penalty"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
