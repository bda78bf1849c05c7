"""`dms-tasks-bot serve | try | demo | doctor | digest list|send | simulate`."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TextIO

from bot.settings import Settings, SettingsError, load_settings, with_simulator

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dms-tasks-bot",
        description="Slack bot for Huawei Cloud DMS for Kafka background tasks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="run the Slack app (HTTP, or Socket Mode with SLACK_APP_TOKEN)"
    )
    serve.add_argument("--port", type=int, default=None, help="HTTP port (env PORT, default 3000)")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on")
    serve.add_argument(
        "--simulator",
        action="store_true",
        help="answer from an embedded DMS simulator (try the bot in Slack without cloud "
        "credentials)",
    )

    try_ = sub.add_parser("try", help="run one /dms-tasks command from the terminal")
    try_.add_argument("text", help='the command text, e.g. "prod-orders last 1h"')
    try_.add_argument("--json", action="store_true", help="print the exact Slack payload")
    try_.add_argument("--tz", default=None, help="the reader's time zone, e.g. Europe/Berlin")
    try_.add_argument("--channel", default="CTERMINAL", help="the channel id to act from")

    demo = sub.add_parser("demo", help="a terminal session that behaves like a Slack channel")
    demo.add_argument("--tz", default=None, help="the reader's time zone, e.g. Europe/Berlin")
    demo.add_argument("--channel", default="CTERMINAL", help="the channel id to act from")

    sub.add_parser(
        "doctor",
        help="check the configured cloud: endpoint, credentials, project, aliases, paging",
    )

    digest = sub.add_parser("digest", help="scheduled digests: list them, or send one now")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True)
    digest_sub.add_parser("list", help="every subscription in the store, with its next run")
    send = digest_sub.add_parser(
        "send", help="post a digest of the last 24 h to a channel now, through the configured Slack"
    )
    send.add_argument("target", help="instance alias or id, several with commas, or all")
    send.add_argument("--channel", required=True, help="the Slack channel id, e.g. C0123ABCD")

    simulate = sub.add_parser("simulate", help="run the DMS API simulator")
    from bot.simulator import add_cli_arguments

    add_cli_arguments(simulate)
    return parser


class _Server:
    """uvicorn's server, ending with exit code 0 on SIGTERM.

    uvicorn shuts down gracefully on SIGTERM and then raises the signal again, so the process
    would end "killed by SIGTERM" (exit -15), which orchestrators and our own checks read as a
    crash. Here the shutdown it already did is the end."""

    def __init__(self, config: Any) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextmanager
            def capture_signals(self) -> Iterator[None]:
                with super().capture_signals():
                    try:
                        yield
                    finally:
                        self._captured_signals.clear()

        self._server = Server(config)

    def run(self) -> None:
        self._server.run()

    def stop(self) -> None:
        self._server.should_exit = True


def _serve(settings: Settings, host: str, port: int | None) -> None:
    import uvicorn

    from bot.runtime import Runtime

    runtime = Runtime(settings)
    port = port or settings.port
    mode = "Socket Mode" if runtime.socket_mode else "HTTP (POST /slack/events)"
    log.info("serving %s; GET /healthz on %s:%s", mode, host, port)
    config = uvicorn.Config(
        runtime.asgi(),
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        # Open requests are acks, done in milliseconds; the answers they started are waited
        # for by the runtime, within its own grace.
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    runtime.on_failure = server.stop
    server.run()
    if runtime.failure is not None:
        raise SettingsError(runtime.failure)
    if not runtime.stopped:
        # uvicorn ended without a shutdown of ours: it could not start, and logged why.
        raise SystemExit(1)


@contextmanager
def embedded_simulator(settings: Settings, notes: TextIO, why: str = "") -> Iterator[Settings]:
    """`settings` pointed at a DMS simulator running in this process, with its demo data."""
    from bot.simulator import SimulatorConfig, SimulatorThread

    with SimulatorThread(SimulatorConfig()) as sim:
        print(f"({why}using the embedded DMS simulator at {sim.url})", file=notes)
        yield with_simulator(settings, sim.url)


def _check_port(port: int, host: str, *, name: str, allow_any: bool = False) -> None:
    """A port out of range, or one something else already holds, is a settings problem with a
    name, not a traceback from the server's bind."""
    low = 0 if allow_any else 1
    if not low <= port <= 65535:
        raise SettingsError(f"{name} {port} is not a port: use a number from {low} to 65535.")
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the server will: reuse a port in TIME_WAIT, refuse one that is listened on.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except PermissionError:
            raise SettingsError(
                f"{name} {port}: this user may not listen on it (ports below 1024 need "
                "privileges); choose a port from 1024 up."
            ) from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SettingsError(
                    f"{name} {port} is already in use on {host}: stop what holds it, or choose "
                    "another port."
                ) from None
            raise SettingsError(
                f"{name} {port} on {host} cannot be listened on ({exc.strerror}); check --host."
            ) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command in {"try", "demo", "doctor", "digest"}:
        # Keep the terminal output to the message itself.
        logging.getLogger().setLevel(logging.ERROR)
    try:
        settings = load_settings()
        if args.command == "serve":
            port_name = "--port" if args.port is not None else "PORT"
            _check_port(
                args.port if args.port is not None else settings.port, args.host, name=port_name
            )
            if args.simulator:
                # A broken config file or zone is reported before the simulator starts.
                settings.timezone()
                with embedded_simulator(settings, sys.stderr) as simulated:
                    _serve(simulated, args.host, args.port)
            else:
                _serve(settings, args.host, args.port)
            return 0
        if args.command == "doctor":
            from bot.doctor import run_doctor

            return asyncio.run(run_doctor(settings, sys.stdout))
        if args.command == "digest":
            from bot.operator_cli import digest_list, digest_send

            if args.digest_command == "list":
                return asyncio.run(digest_list(settings, sys.stdout))
            return asyncio.run(digest_send(settings, args.target, args.channel, sys.stdout))
        if args.command == "simulate":
            from bot.simulator import config_from_cli, serve_forever

            _check_port(args.port, args.host, name="--port", allow_any=True)
            try:
                config = config_from_cli(
                    args,
                    settings.ak.get_secret_value() if settings.ak else None,
                    settings.sk.get_secret_value() if settings.sk else None,
                    settings.project_id,
                )
            except ValueError as exc:
                raise SettingsError(str(exc)) from None
            asyncio.run(serve_forever(config, args.host, args.port))
            return 0
        from bot.terminal import run_demo, run_try

        # A broken config file or zone is reported before an embedded simulator is started.
        settings.timezone()
        cloud = (
            nullcontext(settings)
            if settings.has_cloud_credentials or settings.endpoint
            else embedded_simulator(settings, sys.stderr, "no Huawei Cloud credentials set: ")
        )
        with cloud as effective:
            if args.command == "try":
                return asyncio.run(
                    run_try(
                        effective,
                        args.text,
                        as_json=args.json,
                        tz=args.tz,
                        channel=args.channel,
                        out=sys.stdout,
                    )
                )
            return asyncio.run(
                run_demo(
                    effective, tz=args.tz, channel=args.channel, stdin=sys.stdin, out=sys.stdout
                )
            )
    except SettingsError as exc:
        print(f"Configuration problem:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `dms-tasks-bot try ... | head`: the reader left; say nothing more, not a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
