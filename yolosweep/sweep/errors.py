"""A bad sweep or training configuration, as one line that names the file, the key and the fix."""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad sweep or training configuration, worded as a one-line message with a fix."""

    def __init__(self, source: str, key: str, problem: str, fix: str):
        self.source, self.key, self.problem, self.fix = source, key, problem, fix
        super().__init__(f"{source}: {key}: {problem}. Fix: {fix}")
