"""Built-in registrations: importing this module registers every built-in part.

Each listed module is light to import (heavy libraries load inside factories). Instruments add their
registering modules here.
"""

import alignlab.core._models  # noqa: F401  (model)
import alignlab.core._optim  # noqa: F401  (optimizer)
