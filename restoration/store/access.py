"""Checks that an object-storage location can be used, done before any slow work: one line for
each way it cannot (credentials in the URL, no credentials, an unreachable endpoint, a missing
bucket, no permission to read or write)."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from ..errors import InputError, storage_problem
from .files import join

#: How long the checks wait for the endpoint, and how often they try (S3): a user mistake, such as
#: a wrong AWS_ENDPOINT_URL, is reported in seconds rather than after botocore's minutes of retries.
CHECK_CONFIG = {"connect_timeout": 5, "read_timeout": 20, "retries": {"max_attempts": 2}}


def _filesystem(url: str):
    from fsspec.core import url_to_fs

    options = {"config_kwargs": CHECK_CONFIG} if urlsplit(url).scheme in ("s3", "s3a") else {}
    return url_to_fs(url, skip_instance_cache=True, **options)


def check_url(url: str, *, write: bool, flag: str = "") -> None:
    """Check that ``url`` can be listed and, with ``write``, written, in seconds.

    Writing is checked with a probe object, ``<url>/.restoration-probe-<random>``, deleted at
    once.

    Raises
    ------
    InputError
        Naming ``url`` (or ``flag``) and the problem.
    """
    where = f"{flag} {url}".strip()
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise InputError("credentials in the URL are refused (they would end up in logs and provenance); "
                         "use the AWS environment variables or config files", path=flag or None)
    doing = "read"
    try:
        fs, path = _filesystem(url)
        fs.ls(path.split("/", 1)[0] if parts.scheme else path, detail=False)  # the bucket
        if write:
            doing = "write"
            probe = join(path, f".restoration-probe-{uuid.uuid4().hex}")
            fs.pipe_file(probe, b"")
            fs.rm(probe)
    except InputError:
        raise
    except Exception as exc:  # any library's error is the user's setup here: one line, no traceback
        raise InputError(storage_problem(exc, doing), path=where) from None
