"""The one exception type the CLI turns into a single error line.

Anything a user can cause (bad path, corrupt image, wrong model file, bad size
string) raises TexnetError with a message that says what to do; anything else is
a bug and keeps its traceback.
"""


class TexnetError(Exception):
    """A problem with the user's input or environment, reported without a traceback."""

    exit_status = 1


class Interrupted(TexnetError):
    """Ctrl-C in training, after the model and a checkpoint were saved: reported in one line, exit status 130."""

    exit_status = 130


def is_out_of_memory(exc: BaseException) -> bool:
    """True for the ways CPU and CUDA report running out of memory (torch raises several types)."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        phrase in text for phrase in ("out of memory", "can't allocate memory", "not enough memory",
                                      "failed to allocate", "bad_alloc"))
