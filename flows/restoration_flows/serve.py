"""``restoration serve``: a scheduled deployment of restore-dataset over a watched folder.

Schedules only fire on a real Prefect server, so this refuses to run against the temporary
(ephemeral) API and says how to start one.
"""

from __future__ import annotations

from pathlib import Path

from restoration.errors import InputError

DEFAULT_NAME = "scheduled"


def add_serve_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve a scheduled restoration of a watched folder")
    p.add_argument("--watch", required=True, metavar="DIR")
    p.add_argument("-o", "--outroot", required=True, metavar="OUTROOT")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--cron", help="cron expression, e.g. '0 2 * * *' (nightly at 02:00)")
    when.add_argument("--interval", type=float, metavar="SECONDS")
    p.add_argument("--timezone", default="UTC")
    p.add_argument("--name", default=DEFAULT_NAME, help=f"deployment name (default {DEFAULT_NAME})")
    for opt in ("--noise", "--denoiser", "--method", "--model", "--device"):
        p.add_argument(opt)
    p.add_argument("--sigma", type=float)
    p.add_argument("--steps", type=int)
    p.add_argument("--samples", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--colour", choices=["auto", "joint", "per-channel"])
    p.add_argument("--ensemble", action="store_true", default=None)


def parameters(args) -> dict:
    params = {"watch": str(Path(args.watch).resolve()), "outroot": str(Path(args.outroot).resolve())}
    for key in ("noise", "denoiser", "method", "model", "device", "sigma", "steps", "samples", "seed", "colour", "ensemble"):
        value = getattr(args, key, None)
        if value is not None:
            params[key] = str(Path(value).resolve()) if key == "model" else value
    return params


def build_deployment(args):
    from prefect.types.entrypoint import EntrypointType

    from .flow import restore_dataset

    schedule = {}
    if args.cron:
        from prefect.schedules import Cron
        schedule["schedules"] = [Cron(args.cron, timezone=args.timezone)]
    elif args.interval:
        schedule["interval"] = args.interval
    # A module-path entrypoint: an installed package works, no source checkout needed.
    return restore_dataset.to_deployment(name=args.name, parameters=parameters(args), tags=["restoration"],
                                         entrypoint_type=EntrypointType.MODULE_PATH,
                                         description=f"Restore new datasets of {args.watch} into {args.outroot}",
                                         **schedule)


def require_server() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise InputError("serve needs a Prefect server: run `prefect server start`, then "
                         "`export PREFECT_API_URL=http://127.0.0.1:4200/api`")
    return url


def cmd_serve(args) -> int:
    from restoration import pipeline

    if not Path(args.watch).is_dir():
        raise InputError("watched folder does not exist or is not a directory", path=args.watch)
    pipeline.check_outdir({"inputs": [args.watch], "outdir": args.outroot})  # runs must not read their output
    url = require_server()
    from prefect import serve

    pipeline.validate({"inputs": [], "outdir": args.outroot, **{k: v for k, v in parameters(args).items()
                                                                 if k not in ("watch", "outroot")}})
    Path(args.outroot).mkdir(parents=True, exist_ok=True)
    deployment = build_deployment(args)
    print(f"serving restore-dataset/{args.name} on {url}: {args.watch} -> {args.outroot} "
          f"({'cron ' + args.cron if args.cron else f'every {args.interval} s' if args.interval else 'on demand'})",
          flush=True)
    # One run at a time (one GPU or CPU), and the schedule keeps running when this process stops.
    serve(deployment, limit=1, pause_on_shutdown=False, print_starting_message=False)
    return 0
