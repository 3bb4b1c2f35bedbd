"""How a command ends: its exit codes and the errors that choose them.

A leaf: it imports nothing of the project, so the modules the CLI dispatches to can say how
they end without importing the CLI that imports them.
"""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_REJECTED = 3
EXIT_NOT_BLESSED = 4
# What a shell reports for a process ended by SIGINT.
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A command line that parses but cannot be acted on."""


class Refused(Exception):
    """An ordinary situation that stops a command (a file that is not there, a port in use):
    told in one line, never as a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code
