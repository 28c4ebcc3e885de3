"""Backdoor scanner: find a hidden trigger and its target in a model whose recipe is unknown.

Importing this package does not import torch; models load inside :func:`scan`.

Example::

    from alignlab.backdoor.scan import ScanConfig, scan
    result = scan(ScanConfig(model="bundled:smollm2-135m"))
    print(result.summary())
"""

from alignlab.backdoor.scan._candidates import Candidate, library, null_strings, read_candidates
from alignlab.backdoor.scan._config import ScanConfig
from alignlab.backdoor.scan._invert import Inversion, invert
from alignlab.backdoor.scan._leak import Leak, leak
from alignlab.backdoor.scan._report import write_report
from alignlab.backdoor.scan._scan import Finding, ScanResult, load_scanned_model, scan, scan_model
from alignlab.backdoor.scan._targets import contains, discover_target

__all__ = [
    "Candidate", "Finding", "Inversion", "Leak", "ScanConfig", "ScanResult", "contains", "discover_target", "invert",
    "leak", "library", "load_scanned_model", "null_strings", "read_candidates", "scan", "scan_model", "write_report",
]
