"""Importing this module registers the backdoor instrument's parts: the ``backdoor`` study kind, safety
methods, red-team generators and scorers (entry point ``backdoor`` of the group ``alignlab``)."""

import alignlab.backdoor._safety
import alignlab.backdoor._scoring
import alignlab.backdoor._study  # noqa: F401  (each import registers built-ins)
import alignlab.backdoor.scan._study  # noqa: F401  (the `scan` study kind: a zoo of models)
