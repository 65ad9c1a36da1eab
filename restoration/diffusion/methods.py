"""The sampling methods and their default step counts, torch-free: the CLI's choices and the cost
check read them before torch loads (seconds)."""

#: ``mmse`` (one-step Tweedie estimate), ``ddim`` (deterministic few-step reverse), ``posterior``
#: (ancestral sampling).
METHODS = ("mmse", "ddim", "posterior")
#: Network calls of one reverse chain when ``steps`` is not given.
DEFAULT_STEPS = {"mmse": 1, "ddim": 3, "posterior": 20}
