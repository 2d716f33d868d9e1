"""Modules imported on first use, so the Kedro CLI starts without torch, Great Expectations,
Captum, Opacus, scikit-learn or SciPy.

Kedro imports every pipeline (and so every node module) to list or describe them
(``kedro registry list``); eager imports of the numerical stack made that take 10 s. Node
modules bind their heavy dependencies with ``lazy_module`` instead: the import happens when
a node first touches the module, and costs the same then.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any


class LazyModule(types.ModuleType):
    """A stand-in for module ``name`` that imports it on the first attribute access.

    Thread-safe (a lock guards the import; Python's own ``importlib.util.LazyLoader`` is not
    before 3.12), and each attribute is cached on the stand-in after its first lookup.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        self._module: types.ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:  # called only for names not yet cached
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        with self._lock:
            if self._module is None:
                self._module = importlib.import_module(self.__name__)
        value = getattr(self._module, attribute)
        setattr(self, attribute, value)
        return value


def lazy_module(name: str) -> types.ModuleType:
    """Return module ``name`` if it is imported already, else a ``LazyModule`` for it."""
    return sys.modules.get(name) or LazyModule(name)
