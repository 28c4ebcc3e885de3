"""Importing this module registers the forecast instrument's built-in forecasters and its ``forecast`` study
kind (entry point ``forecast`` of the group ``alignlab``)."""

import alignlab.forecast._forecasters
import alignlab.forecast._study  # noqa: F401  (each import registers built-ins)
