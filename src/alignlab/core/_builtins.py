"""Importing this module registers core's built-in parts: models, optimizers and the ``noop`` study kind.

Named by the ``core`` entry point of the group ``alignlab`` (pyproject.toml); see :mod:`alignlab.core._registry`.
"""

import alignlab.core._models
import alignlab.core._noop
import alignlab.core._optim  # noqa: F401  (each import registers built-ins)
