"""`dms-tasks-bot serve | try | demo | simulate`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from bot.settings import Settings, SettingsError, load_settings

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

    try_ = sub.add_parser("try", help="run one /dms-tasks command from the terminal")
    try_.add_argument("text", help='the command text, e.g. "prod-orders last 1h"')
    try_.add_argument("--json", action="store_true", help="print the exact Slack payload")
    try_.add_argument("--tz", default=None, help="the reader's time zone, e.g. Europe/Berlin")
    try_.add_argument("--channel", default="CTERMINAL", help="the channel id to act from")

    demo = sub.add_parser("demo", help="a terminal session that behaves like a Slack channel")
    demo.add_argument("--tz", default=None, help="the reader's time zone, e.g. Europe/Berlin")
    demo.add_argument("--channel", default="CTERMINAL", help="the channel id to act from")

    simulate = sub.add_parser("simulate", help="run the DMS API simulator")
    from bot.simulator import add_cli_arguments

    add_cli_arguments(simulate)
    return parser


def _serve(settings: Settings, host: str, port: int | None) -> None:
    import uvicorn

    from bot.app import build_asgi, build_runtime, build_slack_app

    runtime = build_runtime(settings)
    app = build_slack_app(settings, runtime)
    if settings.slack_app_token:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        async def socket_mode() -> None:
            assert settings.slack_app_token is not None
            handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            try:
                await handler.connect_async()
                await stop.wait()
                log.info("shutting down: closing the Socket Mode connection")
                await handler.close_async()
            finally:
                await runtime.aclose()

        log.info("serving in Socket Mode")
        asyncio.run(socket_mode())
        return
    log.info(
        "serving HTTP on %s:%s (POST /slack/events, GET /healthz)", host, port or settings.port
    )
    uvicorn.run(
        build_asgi(app, runtime),
        host=host,
        port=port or settings.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=20,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command in {"try", "demo"}:
        # Keep the terminal output to the message itself.
        logging.getLogger().setLevel(logging.ERROR)
    try:
        settings = load_settings()
        if args.command == "serve":
            _serve(settings, args.host, args.port)
            return 0
        if args.command == "simulate":
            from bot.simulator import config_from_cli, serve_forever

            config = config_from_cli(
                args,
                settings.ak.get_secret_value() if settings.ak else None,
                settings.sk.get_secret_value() if settings.sk else None,
                settings.project_id,
            )
            asyncio.run(serve_forever(config, args.host, args.port))
            return 0
        from bot.terminal import cloud_settings, run_demo, run_try

        # A broken config file or zone is reported before an embedded simulator is started.
        settings.timezone()

        with cloud_settings(settings, sys.stderr) as effective:
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
