"""Watching a training run: the hacking-onset :class:`Monitor`, adapters that feed it from trainers, and
the demonstration where hacking emerges and is caught."""
