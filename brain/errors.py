"""The one exception the brain raises to its callers."""


class BrainError(Exception):
    """A problem with the brain, stated in one line that an operator can act on.

    Callers print ``str(error)`` and exit non-zero; no traceback is needed, so every message
    names the thing that is wrong (URL, slot, version, job, artifact) and never a password.
    """
