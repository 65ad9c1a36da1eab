"""The ``restoration`` command. Prefect and torch are imported only by the subcommands that need them.

Exit codes: 0 success; 2 bad input or usage (one line naming the file and the problem); 1 internal
error (one line; the traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import traceback

from restoration import __version__
from restoration.errors import InputError, printable
from restoration.stopping import raise_if_stopped, stop_exception, stop_received
from restoration.store.files import join
from restoration.store.layout import STORE

from .children import WORKER_MARK, environment_kept, restore_environment, tie_prefect_server
from .interrupts import Terminated, leave, stopped_line, stopping_on_signals


class Usage(argparse.ArgumentParser):
    """Errors as one line (exit 2); ``populate(parser)``, if given, adds the arguments when the
    subcommand is used: ``train``'s come from a module that imports torch (seconds), which no other
    subcommand should wait for."""

    def __init__(self, *args, populate=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._populate = populate

    def parse_known_args(self, args=None, namespace=None):
        """Add the subcommand's arguments on first use, then parse."""
        if self._populate is not None:
            populate, self._populate = self._populate, None
            populate(self)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> None:
        """Raise the usage error as one line (exit 2), instead of argparse's usage text."""  # one line, exit 2 (argparse prints usage too)
        raise InputError(f"{self.prog}: {message}")


def _add_run(sub) -> None:
    sub.add_parser("run", help="restore inputs into OUTDIR (the restore-dataset flow)", populate=_run_arguments)


def _run_arguments(p) -> None:  # added when `run` is used: the denoisers' options come from the plugins
    from restoration.options import add_run_arguments
    from restoration.plugins import registry

    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("-o", "--outdir", required=True)
    add_run_arguments(p, registry().table("denoiser").values())
    dask = p.add_mutually_exclusive_group()
    dask.add_argument("--dask-address", metavar="tcp://HOST:PORT", help="run the denoise work on this Dask cluster")
    dask.add_argument("--dask-workers", type=int, metavar="N", help="start a local Dask cluster of N worker processes")


def _add_noise_options(p) -> None:
    """The run options that say what the noise is, as ``run`` spells them."""
    from restoration.options import NOISE_OPTIONS, add_run_arguments

    add_run_arguments(p, include=NOISE_OPTIONS)


def _calibration(args) -> dict:
    from restoration.noise.calibration import calibration

    return calibration(gain=args.gain, read_noise=args.read_noise, offset=args.offset, dark=args.dark)


def _add_other(sub) -> None:
    p = sub.add_parser("characterize", help="print the noise of inputs without restoring")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--format", default="table", choices=["table", "csv", "json"])
    _add_noise_options(p)
    sub.add_parser("train", help="train a diffusion denoiser (the train-denoiser flow)", populate=_train_arguments)
    sub.add_parser("plugins", help="list noise models, transforms, denoisers and failed plugins")


def _add_adapt(sub) -> None:
    sub.add_parser("adapt", help="fine-tune the diffusion model on noisy data alone (the adapt-denoiser flow)",
                   populate=_adapt_arguments)


def _adapt_arguments(p) -> None:  # added when `adapt` is used: restoration.diffusion.adapt imports torch
    from restoration.diffusion.adapt import LOSSES, AdaptConfig as A

    p.add_argument("data", nargs="+", metavar="DATA", help="noisy inputs, as for run")
    p.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="model file to write: the best weights judged on the data, the base model's included")
    p.add_argument("--init", metavar="MODEL", help="base model (default: the shipped model)")
    p.add_argument("--steps", type=int, default=A.steps, help="steps the learning-rate schedule spans")
    p.add_argument("--stop-at", type=int, help="stop after this step, resumable with --resume")
    p.add_argument("--max-minutes", type=float, help="stop after this much training time, resumable with --resume")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT.state")
    p.add_argument("--seed", type=int, default=A.seed)
    p.add_argument("--loss", choices=LOSSES, default=A.loss, help="n2n (Neighbor2Neighbor, default) or r2r")
    p.add_argument("--alpha", type=float, default=A.alpha, help="r2r recorruption strength a")
    p.add_argument("--extra", type=float, default=A.extra, help="r2r: share of samples trained at higher levels")
    p.add_argument("--patch", type=int, default=A.patch)
    p.add_argument("--batch", type=int, default=A.batch)
    p.add_argument("--lr", type=float, default=A.lr)
    p.add_argument("--warmup", type=int, default=A.warmup)
    p.add_argument("--checkpoint-every", type=int, default=A.checkpoint_every)
    _add_noise_options(p)
    p.add_argument("--transform", action="append", dest="transforms", metavar="NAME", help="as for run")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int)
    p.add_argument("--no-flow", action="store_true", help="adapt without Prefect (same core function)")


def _train_arguments(p) -> None:
    from restoration.diffusion.train_cli import add_arguments

    add_arguments(p)
    p.add_argument("--no-flow", action="store_true", help="train without Prefect (same core function)")


def _add_export(sub) -> None:
    sub.add_parser("export", help="write a model file as a BioImage Model Zoo package", populate=_export_arguments)


def _export_arguments(p) -> None:  # added when `export` is used: restoration.export loads numpy
    from restoration.export.bioimageio import DEFAULT_SIGMA

    p.add_argument("model", metavar="MODEL", help="diffusion model file (.pt)")
    p.add_argument("--format", default="bioimageio", choices=["bioimageio"], help="bioimageio: a model zoo .zip")
    p.add_argument("-o", "--output", required=True, metavar="PACKAGE", help="package to write (.zip)")
    p.add_argument("--sigma", type=float, default=DEFAULT_SIGMA,
                   help=f"noise std fixed in the package, in its normalized input's units (default {DEFAULT_SIGMA})")
    p.add_argument("--author", action="append", dest="authors", metavar="NAME", help="author name (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The ``restoration`` command line: the global options and every subcommand."""
    parser = Usage(prog="restoration", description="Restore noisy images and arrays with diffusion models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and Prefect logs (anywhere on the line)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Usage)
    _add_run(sub)
    _add_other(sub)
    _add_adapt(sub)
    _add_export(sub)
    from .serve import add_serve_parser

    add_serve_parser(sub)
    return parser


def cmd_plugins(args) -> int:
    """``restoration plugins``: every registered noise model, transform and denoiser (with its options), and failed plugins."""
    from restoration.plugins import registry

    reg = registry()
    for kind in ("noise", "transform", "denoiser"):
        print(f"{kind}:")
        for name, plugin in sorted(reg.table(kind).items()):
            print(f"  {name:<18} {reg.sources[(kind, name)]}")
            for opt in getattr(plugin, "options", ()) if kind == "denoiser" else ():
                choices = f" {{{', '.join(map(str, opt.choices))}}}" if opt.choices else ""
                print(f"    {opt.name}: {opt.type.__name__}{choices} = {opt.default!r}  {opt.help}")
    if reg.failures:
        print("failed plugins:")
        for plugin, error in reg.failures:
            print(f"  {plugin}: {error}")
    return 0


def cmd_characterize(args) -> int:
    """``restoration characterize``: the noise of each input as a table, CSV or JSON."""
    import pandas as pd

    from restoration.api import noise_frame
    from restoration.io import discover
    from restoration.planning import characterize_sample, sample_planes
    from restoration.plugins import registry

    reg = registry()
    fixed = _calibration(args)
    rows = []
    for item in discover(args.inputs, axes=args.axes):
        try:
            sample = sample_planes(item.open(), item.axes)
        except InputError:
            raise
        except Exception as exc:  # a corrupt chunk of a zarr store, a file that went away
            raise InputError(f"cannot read data ({type(exc).__name__}: {exc})", path=item.where) from None
        rows += [{"name": item.name, **r}
                 for r in characterize_sample(sample, "c" in item.axes, reg, noise=args.noise, sigma=args.sigma, fixed=fixed)]
    frame = noise_frame(rows, reg)
    if args.format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif args.format == "json":
        print(json.dumps(json.loads(frame.to_json(orient="records")), indent=1))
    else:
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


def cmd_run(args) -> int:
    """``restoration run``: preflight, then the restore-dataset flow; prints the results per item."""
    from restoration import pipeline
    from restoration.options import options_from_args

    from .console import console

    if args.dask_workers is not None and args.dask_workers < 1:
        raise InputError("--dask-workers must be >= 1")
    options = options_from_args(args, inputs=tuple(args.inputs), outdir=args.outdir)
    # Every mistake that can be known before any work, in seconds: exit 2 before Prefect starts.
    check = pipeline.preflight(options)
    for warning in check["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    from .flow import outcome, restore_dataset

    console.enabled = True
    print(f"restoring into {args.outdir} (Prefect flow restore-dataset)", flush=True)
    flow_fn, distributed = restore_dataset, bool(args.dask_address or args.dask_workers)
    if distributed:
        flow_fn = restore_dataset.with_options(task_runner=dask_runner(args.dask_address, args.dask_workers))
    tie_prefect_server()
    state = flow_fn(options=options, distributed=distributed, return_state=True)
    if not (state.is_completed() or state.is_failed()):
        raise RuntimeError(f"flow run ended {state.type.value}: {state.message}")
    try:
        summary = state.result(raise_on_failure=False)
    except Exception as exc:  # the result could not be read back
        raise RuntimeError(f"flow run result unavailable: {exc}") from exc
    if isinstance(summary, BaseException):
        raise summary
    summary = summary["summaries"][0]
    print(outcome([summary]))
    skipped = set(summary["skipped"])
    for row in summary["quality_table"]:  # failures were printed, once each, as they happened
        if row["status"] != "ok":
            continue
        figures = f"psnr {row['psnr']:.2f} dB, ssim {row['ssim']:.3f}" if row.get("psnr") == row.get("psnr") and row.get("psnr") is not None else ""
        when = "already complete" if row["name"] in skipped else f"{row['seconds']:.1f} s"
        print(f"  {row['name']:<24} {row['noise']:<18} {figures}  {when}")
    print("outputs: " + ", ".join(join(args.outdir, name) for name in (STORE, "noise.csv", "quality.csv", "report.html")))
    return 2 if summary["failed"] else 0


def dask_runner(address: str | None, workers: int | None):
    """Prefect's Dask task runner on an existing cluster or a local one of ``workers`` processes."""
    import dask
    from distributed import LocalCluster
    from prefect_dask import DaskTaskRunner

    from restoration.diffusion.cpu_heap import worker_environment

    if address:
        return DaskTaskRunner(address=address)
    if workers < 1:  # the CLI refuses it before any work; other callers get the same line
        raise InputError("--dask-workers must be >= 1")

    class LocalDaskTaskRunner(DaskTaskRunner):
        """On an interrupt, the local workers stop at once: closed in order, each would first
        finish the region it is restoring (seconds); the next run redoes that region."""

        def __enter__(self):
            self._environ = dict(os.environ)
            return super().__enter__()

        def __exit__(self, *exc_info) -> None:
            stopped = isinstance(exc_info[1], BaseException) and not isinstance(exc_info[1], Exception)
            if stopped:  # Ctrl-C, or SIGTERM (Prefect's TerminationSignal)
                for nanny in getattr(self._cluster, "workers", {}).values():
                    nanny.close_gracefully(reason="interrupted")  # no restart of the worker killed
                    with contextlib.suppress(ProcessLookupError, TypeError):
                        os.kill(nanny.pid, signal.SIGKILL)
            try:
                super().__exit__(*exc_info)
            finally:  # a nanny that restarted its worker wrote the worker's environment here again
                restore_environment(self._environ)

    def local_cluster(**kwargs):
        # Set before the nannies spawn the workers: glibc reads it at process start only. Each
        # worker starts a temporary Prefect API of its own: tied to the worker like the command's.
        environ = {**worker_environment(), WORKER_MARK: "1"}
        config = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in environ.items()}
        with dask.config.set({**config, "distributed.worker.preload": ["restoration_flows.children"]}), \
                environment_kept():
            return LocalCluster(**kwargs)

    # One thread per worker: the denoiser uses the cores itself; processes sidestep the GIL.
    return LocalDaskTaskRunner(cluster_class=local_cluster,
                               cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                               "dashboard_address": None})


def cmd_train(args) -> int:
    """``restoration train``: the train-denoiser flow (or the core function with ``--no-flow``)."""
    from restoration.diffusion.checkpoint import check_resume_state
    from restoration.diffusion.train import check_config
    from restoration.diffusion.train_cli import config_from_args

    cfg = config_from_args(args)
    check_config(cfg)  # bad options and --init files: exit 2 before Prefect starts
    if args.resume:
        check_resume_state(cfg.output)
    if args.no_flow:
        from restoration.diffusion.train import train
        from restoration.diffusion.train_cli import print_progress

        prov = train(cfg, resume=args.resume, progress=print_progress)
    else:
        from .train_flow import train_denoiser

        tie_prefect_server()
        prov = train_denoiser(cfg.to_dict(), resume=args.resume)
    print(f"wrote {args.output} ({prov['parameters']} parameters, {prov['steps']} steps, {prov['seconds']} s)")
    return 0


def cmd_adapt(args) -> int:
    """``restoration adapt``: the adapt-denoiser flow (or the core function with ``--no-flow``)."""
    from restoration.diffusion.adapt import AdaptConfig, check_config
    from restoration.diffusion.checkpoint import check_resume_state

    cfg = AdaptConfig(sources=list(args.data), **{k: getattr(args, k) for k in AdaptConfig.__dataclass_fields__
                                                   if k != "sources" and hasattr(args, k)})
    check_config(cfg)  # bad options and --init files: exit 2 before Prefect starts
    if args.resume:
        check_resume_state(cfg.output)
    if args.no_flow:
        from restoration.diffusion.adapt import adapt
        from restoration.diffusion.train_cli import print_progress

        prov = adapt(cfg, resume=args.resume, progress=print_progress)
    else:
        from .adapt_flow import adapt_denoiser

        tie_prefect_server()
        prov = adapt_denoiser(cfg.to_dict(), resume=args.resume)
    kept = prov["selected"]["step"]
    print(f"wrote {args.output} ({prov['steps']} of {cfg.steps} steps on {len(prov['adapted_on'])} inputs, "
          f"{prov['seconds']} s; " + (f"the weights of step {kept}, judged best on your data)" if kept else
                                      "the base model's weights: no checkpoint restored your data clearly better)"))
    return 0


def cmd_export(args) -> int:
    """``restoration export``: a model file as a BioImage Model Zoo package."""
    from restoration.export.bioimageio import DEFAULT_AUTHORS, export_bioimageio

    path = export_bioimageio(args.model, args.output, sigma=args.sigma, authors=args.authors or DEFAULT_AUTHORS)
    print(f"wrote {path} (BioImage Model Zoo package, noise std {args.sigma:g} in normalized units)")
    return 0


COMMANDS = {"run": cmd_run, "characterize": cmd_characterize, "train": cmd_train, "adapt": cmd_adapt,
            "export": cmd_export, "plugins": cmd_plugins}


def _without_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without its ``--debug`` options (before a ``--``), and whether there was one: it
    may follow the subcommand, where argparse would refuse the top level's option."""
    end = argv.index("--") if "--" in argv else len(argv)
    kept = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    return kept, len(kept) < len(argv)


def _stopped(args, exc: KeyboardInterrupt, command_line: bool) -> int:
    """One line on what a stopped command did; exit 130 (143 for SIGTERM)."""
    from .console import console

    console.end_line()  # a progress bar may have been drawn up to the interruption
    print(stopped_line(args, exc), file=sys.stderr, flush=True)
    code = 143 if isinstance(exc, Terminated) else 130
    if command_line:
        leave(code)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code. Stopped by
    SIGINT or SIGTERM, the command line itself (``argv`` None) ends the process at once after
    the exit handlers (:func:`~.interrupts.leave`)."""
    command_line = argv is None
    argv, debug = _without_debug(sys.argv[1:] if argv is None else list(argv))
    from .settings import configure

    configure(debug=debug)
    args = None
    try:
        with stopping_on_signals():
            args = build_parser().parse_args(argv)
            if args.command == "serve":
                from .serve import cmd_serve
                return cmd_serve(args)
            code = COMMANDS[args.command](args)
            raise_if_stopped()  # signalled, it must not report success
            return code
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if debug:
            traceback.print_exc()
        return 2
    except KeyboardInterrupt as exc:
        return _stopped(args, exc, command_line)
    except Exception as exc:
        from restoration.plugins import PluginError

        signum = stop_received()
        if signum is not None:  # a library's own error raised in place of the stop
            return _stopped(args, stop_exception(signum), command_line)
        if isinstance(exc, PluginError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"internal error: {type(exc).__name__}: {printable(str(exc).splitlines()[0]) if str(exc) else ''}",
              file=sys.stderr)
        if debug:
            traceback.print_exc()
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
