"""Errors a user sees as one clear line (the CLI maps them to exit code 2)."""


class ReportgenError(Exception):
    """A structural problem with the user's input: bad config, missing dataset root, ..."""


class DatasetError(ReportgenError):
    """The dataset as a whole cannot be read (missing root, unreadable manifest)."""


class ModelError(ReportgenError):
    """A model cannot be built or loaded (unknown architecture, bad weights, wrong layer)."""


class ConfigError(ReportgenError):
    """The run configuration is invalid."""
