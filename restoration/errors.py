"""Errors that are the user's to fix: the CLI prints them as one line and exits 2."""

from __future__ import annotations

_SURROGATES = range(0xDC80, 0xDD00)  # os.fsdecode's stand-ins for bytes that are not UTF-8


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped as in ``repr``.

    Newlines, tabs and other control or format characters become ``\\n``, ``\\t``, ``\\x85``,
    ``\\u200b``..., and the undecodable bytes of a file name (``os.fsdecode`` surrogates) become
    ``\\xNN``: a message or name that passes through here is one line of valid UTF-8. Letters of
    any script and spaces are kept.

    Parameters
    ----------
    text : str
        Any string, e.g. a file name.

    Returns
    -------
    str
        ``text`` itself when it is already printable.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c) - 0xDC00:02x}" if ord(c) in _SURROGATES
                   else repr(c)[1:-1] for c in text)


class InputError(ValueError):
    """Bad input or usage. ``str(err)`` is the one line shown to the user, naming the file."""

    def __init__(self, message: str, *, path: str | None = None):
        self.path = path
        super().__init__(printable(f"{path}: {message}" if path else message))


def _names(exc: BaseException) -> set[str]:
    return {c.__name__ for c in type(exc).__mro__}


def storage_problem(exc: BaseException, doing: str = "write") -> str:
    """What went wrong, in one line, for an exception from an fsspec filesystem while ``doing``
    (``read`` or ``write``) there (never a secret: botocore's messages name the endpoint and the
    key, not the credentials)."""
    names = _names(exc)
    if names & {"NoCredentialsError", "PartialCredentialsError"}:
        return ("no credentials for object storage: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
                "with ~/.aws/credentials (AWS_ENDPOINT_URL for an S3-compatible server)")
    if names & {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionError", "ClientConnectorError"}:
        return f"cannot reach the object storage endpoint ({str(exc).splitlines()[0]})"
    if isinstance(exc, FileNotFoundError):
        return "the bucket (or container) does not exist"
    if isinstance(exc, PermissionError):
        return f"no permission to {doing} there (access denied)"
    return f"cannot use the object storage: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
