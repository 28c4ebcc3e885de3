"""Detectors: static and dynamic checks that turn a graded completion into findings with evidence lines."""
