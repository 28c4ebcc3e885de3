"""Built-in registrations: importing this module registers every built-in part.

Each listed module is light to import (heavy libraries load inside factories). Instruments add their
registering modules here.
"""

import alignlab.backdoor._safety
import alignlab.backdoor._scoring
import alignlab.backdoor._study
import alignlab.core._models
import alignlab.core._optim  # noqa: F401  (each import registers built-ins)
