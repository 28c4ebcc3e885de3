"""alignlab: test claims about ML model behaviour under many conditions, with honest statistics.

The root stays small and light: importing ``alignlab`` does not import torch, transformers or ray.
Instruments live in ``alignlab.backdoor`` (and, as they land, ``hacking``, ``forecast``, ``scaling``);
the shared engine in ``alignlab.core``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
