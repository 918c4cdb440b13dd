"""``opensmm worker``: send orders to providers and follow them (see docs/fulfillment.md)."""

from __future__ import annotations

import signal
import threading
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
    Ctrl-C or SIGTERM: the pass in hand finishes first."""
    configure_logging(get_settings())
    runner = Worker(database(), WorkerConfig.from_settings())
    if once:
        try:
            tally = runner.run_once()
        finally:
            runner.close()
        if as_json:
            emit_json(tally.as_dict())
        else:
            typer.echo(", ".join(f"{name} {count}" for name, count in tally.as_dict().items()))
        return
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    typer.echo(f"opensmm worker {runner.owner} running (Ctrl-C to stop)", err=True)
    runner.run(stop)
