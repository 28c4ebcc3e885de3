"""Importing this module registers the hacking instrument's built-in detectors, behaviour scorers and study
kinds (entry point ``hacking`` of the group ``alignlab``)."""

import alignlab.hacking._awareness
import alignlab.hacking._detect_basic
import alignlab.hacking._detect_dynamic
import alignlab.hacking._detect_harness
import alignlab.hacking._detect_logic
import alignlab.hacking._study_awareness
import alignlab.hacking._study_scan  # noqa: F401  (each import registers built-ins)
