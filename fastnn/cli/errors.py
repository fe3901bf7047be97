"""The one exception the command line raises for bad input of its own.

``main`` prints any CLIError (and the library's ValueError/TypeError, and
OSError such as a missing file) as one line on stderr and exits with 2.
"""

USAGE_ERROR = 2        # bad input: flags, files, hyperparameters
CHECK_FAILED = 1       # the command ran, and what it checked failed (gradcheck)


class CLIError(Exception):
    """A message for the user, printed without a traceback."""
