"""The one exception type the CLI turns into a single error line.

Anything a user can cause (bad path, corrupt image, wrong model file, bad size
string) raises TexnetError with a message that says what to do; anything else is
a bug and keeps its traceback.
"""


class TexnetError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""
