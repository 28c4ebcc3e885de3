"""Importing this module registers the scaling instrument's tasks (``scaling-task``), architectures
(``scaling-arch``) and its ``scaling`` study kind (entry point ``scaling`` of the group ``alignlab``)."""

import alignlab.scaling._models
import alignlab.scaling._study
import alignlab.scaling._tasks  # noqa: F401  (each import registers built-ins)
