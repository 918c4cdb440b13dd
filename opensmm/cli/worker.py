"""``opensmm worker``: send orders to providers and follow them (see docs/fulfillment.md)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType
from typing import Annotated

import typer

from opensmm.cli.accounts import JsonFlag
from opensmm.cli.output import database, emit_json
from opensmm.fulfillment.config import WorkerConfig
from opensmm.fulfillment.worker import BackgroundWorker, Worker
from opensmm.observability.logs import configure_logging
from opensmm.settings import get_settings


def start_in_process() -> BackgroundWorker:
    """The worker ``opensmm serve`` runs beside the server, on a thread of its own."""
    configure_logging(get_settings())
    background = BackgroundWorker(database(), WorkerConfig.from_settings())
    background.start()
    return background


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run a single pass, print what it did, exit.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Send new orders and refills to their providers (or the simulator), follow running
    ones, apply statuses and refunds. Several may run at once (PostgreSQL); stop with
    Ctrl-C or SIGTERM: no new work is taken, the calls on the wire are answered and recorded
    (at most OPENSMM_WORKER_GRACE_SECONDS), orders claimed but not sent are given back."""
    configure_logging(get_settings())
    if once:
        runner = Worker(database(), WorkerConfig.from_settings())
        try:
            tally = runner.run_once()
        finally:
            runner.close()
        if as_json:
            emit_json(tally.as_dict())
        else:
            typer.echo(", ".join(f"{name} {count}" for name, count in tally.as_dict().items()))
        return
    background = BackgroundWorker(database(), WorkerConfig.from_settings())
    stop_on_signals(background)
    background.start()
    typer.echo(f"opensmm worker {background.worker.owner} running (Ctrl-C to stop)", err=True)
    while background.thread.is_alive() and not background.stop_event.wait(0.5):
        pass
    finish(background)


def stop_on_signals(background: BackgroundWorker | None) -> None:
    """SIGTERM and SIGINT stop the worker taking new work (systemd, ``docker stop``, Ctrl-C);
    with no worker they only keep the process alive to end cleanly (exit 0)."""

    def _stop(signum: int, frame: FrameType | None) -> None:
        if background is not None:
            background.request_stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def finish(background: BackgroundWorker) -> None:
    """Wait out the grace period; past it, leave at once without waiting for the calls still
    on the wire (their orders are held once the lease ends, as after a crash)."""
    if not background.stop():
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
