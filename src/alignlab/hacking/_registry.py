"""Importing this module registers the hacking instrument's built-in detectors, behaviour scorers and study
kinds (entry point ``hacking`` of the group ``alignlab``)."""

import alignlab.hacking._study_scan  # noqa: F401  (each import registers built-ins)
import alignlab.hacking.awareness._awareness
import alignlab.hacking.awareness._study_awareness
import alignlab.hacking.detectors._detect_basic
import alignlab.hacking.detectors._detect_dynamic
import alignlab.hacking.detectors._detect_harness
import alignlab.hacking.detectors._detect_logic
import alignlab.hacking.detectors._detect_offtest  # noqa: F401  (also imported by _detect_dynamic)
import alignlab.hacking.detectors._detect_swallow  # noqa: F401
