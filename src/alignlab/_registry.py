"""Built-in registrations: importing this module registers every built-in part.

Each listed module is light to import (heavy libraries load inside factories). Instruments add their
registering modules here.
"""
# ruff: noqa: F401  (each import registers built-ins)

import alignlab.backdoor._safety  # safety methods, red-team generators
import alignlab.backdoor._scoring  # scorers
import alignlab.backdoor._study  # study: backdoor
import alignlab.core._models  # models
import alignlab.core._noop  # study: noop
import alignlab.core._optim  # optimizers
import alignlab.forecast._forecasters  # forecasters
import alignlab.hacking._registry  # detectors, behaviour scorers
