"""Importing this module registers the hacking instrument's built-in detectors and behaviour scorers."""

import alignlab.hacking._awareness
import alignlab.hacking._detect_basic
import alignlab.hacking._detect_dynamic
import alignlab.hacking._detect_harness
import alignlab.hacking._detect_logic  # noqa: F401  (special-casing, exception-swallowing)
