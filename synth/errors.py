"""Errors that name a bad input and its fix in one line.

The CLIs catch :class:`InputError` and print ``error: <message>`` without a traceback;
anything else is a bug and keeps its traceback.
"""


class InputError(ValueError):
    """A user-supplied input (file, clip name, config value) is missing or malformed."""


class MissingDependency(ImportError):
    """An optional package needed by the selected backend is not installed."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the optional package '{package}': "
            f"install it with  .venv/bin/pip install -e '.[{extra}]' -c constraints.txt"
        )
