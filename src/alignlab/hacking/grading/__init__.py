"""Grading in the sandbox: isolated solution processes, the trusted judge that runs the tests, the wire
between them, and the worker pool.

The pool is the one process pool outside core's executors: a suite is graded in milliseconds by a worker
that forks a fresh sandboxed solution process per suite, so a core cell per sample would cost more than the
grading itself. Keep this package free of heavy imports: workers import it and fork many times a second.
"""
