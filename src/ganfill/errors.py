"""The one exception type the CLI turns into a one-line message and exit code 2."""


class GanfillError(Exception):
    """A problem with the user's input: says what is wrong and what to do about it."""
