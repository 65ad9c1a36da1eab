"""``restoration serve``: a scheduled deployment of restore-dataset over a watched folder.

Schedules only fire on a real Prefect server, so this refuses to run against the temporary
(ephemeral) API and says how to start one.
"""

from __future__ import annotations

import signal
from pathlib import Path

from restoration.errors import InputError
from restoration.store.access import check_url
from restoration.stopping import stop_received
from restoration.store.files import is_url, make_dirs
from restoration.watch import SETTLE_SECONDS

DEFAULT_NAME = "scheduled"


def add_serve_parser(sub) -> None:
    """Add the ``serve`` subcommand (its flags are added when it is used)."""
    sub.add_parser("serve", help="serve a scheduled restoration of a watched folder", populate=_serve_arguments)


def _serve_arguments(p) -> None:  # added when `serve` is used: the denoisers' options come from the plugins
    from restoration.options import add_run_arguments
    from restoration.plugins import registry

    p.add_argument("--watch", required=True, metavar="DIR")
    p.add_argument("-o", "--outroot", required=True, metavar="OUTROOT")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--cron", help="cron expression, e.g. '0 2 * * *' (nightly at 02:00)")
    when.add_argument("--interval", type=float, metavar="SECONDS")
    p.add_argument("--timezone", default="UTC")
    p.add_argument("--name", default=DEFAULT_NAME, help=f"deployment name (default {DEFAULT_NAME})")
    p.add_argument("--settle", type=float, default=SETTLE_SECONDS, metavar="SECONDS",
                   help=f"a file modified less than this long ago is still being copied: runs wait for it "
                        f"(default {SETTLE_SECONDS:g})")
    add_run_arguments(p, registry().table("denoiser").values(), exclude=("reference", "overwrite"), defaults=False)


def valid_cron(expr: str) -> bool:
    """Whether Prefect's ``Cron`` schedule accepts ``expr``: its vendored croniter's rule, loaded
    from its file without importing Prefect (seconds); random and hashed fields (``R``, ``H``)
    are refused as Prefect refuses them."""
    import importlib.util
    from importlib.metadata import distribution

    path = distribution("prefect").locate_file("prefect/_vendor/croniter/croniter.py")
    if not Path(path).is_file():  # another Prefect layout: its own validator (imports Prefect)
        from prefect._internal.schemas.validators import validate_cron_string
        try:
            validate_cron_string(expr)
        except ValueError:
            return False
        return True
    spec = importlib.util.spec_from_file_location("restoration_flows._croniter", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.croniter.is_valid(expr) and not any(f.casefold() in ("r", "h") for f in expr.split())


def check_schedule(args) -> None:
    """Refuse the schedule options Prefect would refuse once serving, before any work.

    Raises
    ------
    InputError
        Naming the option: a cron expression that is not valid, or uses the random or hashed
        fields (``R``, ``H``) Prefect does not support; an unknown ``--timezone``; an
        ``--interval`` that is not a positive number of seconds.
    """
    import math
    import zoneinfo

    if args.cron is not None and not valid_cron(args.cron):
        raise InputError(f"--cron {args.cron!r} is not a valid cron expression "
                         "(five fields: minute hour day month weekday, e.g. '0 2 * * *')")
    try:
        zoneinfo.ZoneInfo(args.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--timezone {args.timezone!r} is not a known time zone (e.g. UTC, Europe/Paris)") from None
    if args.interval is not None and not (math.isfinite(args.interval) and args.interval > 0):
        raise InputError(f"--interval must be a positive number of seconds, got {args.interval}")
    if not (math.isfinite(args.settle) and args.settle >= 0):
        raise InputError(f"--settle must be a number of seconds >= 0, got {args.settle}")


def run_options(args):
    """The :class:`~restoration.options.RunOptions` every scheduled run uses: the flags given,
    file paths made absolute (the runs may start elsewhere)."""
    from restoration.options import options_from_args
    from restoration.plugins import registry

    options = options_from_args(args)
    paths = {o.name for o in getattr(registry().table("denoiser").get(options.denoiser), "options", ()) if o.path}
    given = {k: str(Path(v).resolve()) if k in paths and v is not None else v for k, v in options.denoiser_options.items()}
    return options.replace(denoiser_options=given, dark=str(Path(options.dark).resolve()) if options.dark else None)


def _absolute(path: str) -> str:
    return path if is_url(path) else str(Path(path).resolve())


def parameters(args) -> dict:
    """The deployment's parameters: the watched folder, OUTROOT and the run options as JSON."""
    return {"watch": _absolute(args.watch), "outroot": _absolute(args.outroot),
            "options": run_options(args).to_json(), "settle": args.settle}


def build_deployment(args):
    """The restore-dataset deployment: the watched folder, OUTROOT, the run options and the schedule."""
    from prefect.types.entrypoint import EntrypointType

    from .flow import restore_dataset

    schedule = {}
    if args.cron:
        from prefect.schedules import Cron
        schedule["schedules"] = [Cron(args.cron, timezone=args.timezone)]
    elif args.interval:
        schedule["interval"] = args.interval
    # A module-path entrypoint: an installed package works, no source checkout needed.
    # concurrency_limit: the server holds further runs while one is running (one GPU or CPU).
    return restore_dataset.to_deployment(name=args.name, parameters=parameters(args), tags=["restoration"],
                                         entrypoint_type=EntrypointType.MODULE_PATH, concurrency_limit=1,
                                         description=f"Restore new datasets of {args.watch} into {args.outroot}",
                                         **schedule)


def require_server() -> str:
    """The configured Prefect server's API URL (schedules need one; the temporary API has none)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise InputError("serve needs a Prefect server: run `prefect server start`, then "
                         "`export PREFECT_API_URL=http://127.0.0.1:4200/api`")
    return url


def cmd_serve(args) -> int:
    """``restoration serve``: check everything, then serve the deployment, one run at a time."""
    from restoration import pipeline

    check_schedule(args)
    if is_url(args.watch):
        check_url(args.watch, write=False, flag="--watch")
    elif not Path(args.watch).is_dir():
        raise InputError("watched folder does not exist or is not a directory", path=args.watch)
    pipeline.check_outdir([args.watch], args.outroot)  # runs must not read their output
    pipeline.validate(run_options(args).replace(outdir=args.outroot))
    url = require_server()  # imports Prefect (seconds): after every check that needs none
    from prefect import serve

    make_dirs(args.outroot)
    deployment = build_deployment(args)
    print(f"serving restore-dataset/{args.name} on {url}: {args.watch} -> {args.outroot} "
          f"({'cron ' + args.cron if args.cron else f'every {args.interval} s' if args.interval else 'on demand'})",
          flush=True)
    # One run at a time (one GPU or CPU), and the schedule keeps running when this process stops.
    serve(deployment, limit=1, pause_on_shutdown=False, print_starting_message=False)
    # Serving ends only on a signal, which Prefect's runner handles and swallows (its own SIGTERM
    # handler cancels the runs in flight): stopped like any other command.
    raise KeyboardInterrupt() if stop_received() == signal.SIGINT else Terminated()
