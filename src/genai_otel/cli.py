"""``genai-otel`` command line: ``demo``, ``semconv generate|check``, ``model-server``, ``processor``,
``evaluate`` (and ``evaluate calibrate``)."""

from __future__ import annotations

import argparse
import contextlib
import sys


def _run_semconv_diff(checkout: str | None) -> int:
    """Print every drift between conventions/ and the upstream checkout; 1 when one is not an exception."""
    from pathlib import Path

    from genai_otel import _semconv_diff

    if not checkout or not Path(checkout).is_dir():
        print("usage: genai-otel semconv diff UPSTREAM_CHECKOUT (a directory)", file=sys.stderr)
        return 2
    drifts = _semconv_diff.diff(Path(checkout))
    unexpected = [d for d in drifts if not d.excepted]
    for drift in drifts:
        print(drift)
    print(
        f"{len(drifts)} differences: {len(drifts) - len(unexpected)} deliberate exceptions,"
        f" {len(unexpected)} drift"
    )
    return 1 if unexpected else 0


def _evaluate(args: list[str]) -> int:
    """``genai-otel evaluate ...``: its own options (genai_otel.evaluation.offline / .calibration)."""
    if args[:1] == ["calibrate"]:
        from genai_otel.evaluation import calibration

        return calibration.main(args[1:])
    from genai_otel.evaluation import offline

    return offline.main(args)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["evaluate"]:
        return _evaluate(arguments[1:])
    parser = argparse.ArgumentParser(prog="genai-otel", description="OpenTelemetry for GenAI systems")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "evaluate",
        help="judge exported traces (OTLP files, a Jaeger query API) with the evaluators and write a report; "
        "`evaluate calibrate` scores the evaluators against the labelled set (see `evaluate --help`)",
    )
    commands.add_parser(
        "demo", help="run instrumented calls against a local model server and print the trace"
    )
    semconv = commands.add_parser(
        "semconv",
        help="generate/check src/genai_otel/semconv.py from conventions/; diff conventions/ with upstream",
    )
    semconv.add_argument("action", choices=["generate", "check", "diff"])
    semconv.add_argument(
        "checkout",
        nargs="?",
        help="diff: a checkout of open-telemetry/semantic-conventions-genai (its model/ directory is read)",
    )
    server = commands.add_parser(
        "model-server", help="serve the local OpenAI/Anthropic-compatible model server"
    )
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8000)
    processor = commands.add_parser(
        "processor",
        help="receive OTLP, enrich GenAI spans (normalise, cost, loop flags, redact, limit, evaluate)",
    )
    processor.add_argument("--listen", default="127.0.0.1:4327", help="HOST:PORT to receive OTLP/gRPC on")
    processor.add_argument("--forward", required=True, help="HOST:PORT of the next OTLP/gRPC receiver")
    processor.add_argument(
        "--http-listen", help="HOST:PORT to also receive OTLP/HTTP on (protobuf or JSON, gzip or not)"
    )
    processor.add_argument(
        "--metrics-listen",
        help="HOST:PORT to serve the processor's own metrics at /metrics (Prometheus text); "
        "with --workers N, worker i uses PORT+i",
    )
    processor.add_argument("--spool", default=".genai-otel-spool", help="directory of the durable queue")
    processor.add_argument("--workers", type=int, default=1, help="worker processes sharing the ports")
    processor.add_argument(
        "--durable",
        action="store_true",
        help="write every request to the spool (fsync) before acknowledging it: no loss even on a crash",
    )
    processor.add_argument(
        "--config", help="YAML/JSON file: rules and their options, evaluators (see processor/config_file.py)"
    )
    processor.add_argument(
        "--max-send-bytes",
        type=int,
        default=4 << 20,
        help="largest request sent downstream; bigger ones are split on span boundaries "
        "(default 4 MiB: the Collector's and Jaeger's gRPC limit)",
    )
    processor.add_argument(
        "--spool-max-bytes", type=int, default=1 << 30, help="byte cap of the spool (default 1 GiB)"
    )
    processor.add_argument(
        "--dead-letter-dir",
        help="where requests the downstream will never take are kept (default SPOOL/dead-letter)",
    )
    processor.add_argument(
        "--dead-letter-max-bytes",
        type=int,
        default=256 << 20,
        help="byte cap of the dead-letter directory, oldest dropped first (default 256 MiB)",
    )
    processor.add_argument(
        "--drain-seconds",
        type=float,
        default=10.0,
        help="on SIGTERM, how long to keep forwarding what is queued before spooling the rest",
    )
    from genai_otel.processor.limits import add_arguments as add_limit_arguments

    add_limit_arguments(processor)
    commands.add_parser(
        "collector-config",
        help="print the pure-collector config (OTTL normalisation and cost) from conventions/",
    )
    args = parser.parse_args(arguments)

    if args.command == "collector-config":
        from genai_otel.processor.collector_config import render

        print(render(), end="")
        return 0
    if args.command == "processor":
        from genai_otel.processor.config_file import ConfigError
        from genai_otel.processor.limits import from_arguments
        from genai_otel.processor.service import serve

        try:
            return serve(
                args.listen,
                args.forward,
                args.spool,
                args.http_listen,
                args.workers,
                args.config,
                args.durable,
                args.metrics_listen,
                max_send_bytes=args.max_send_bytes,
                spool_max_bytes=args.spool_max_bytes,
                dead_letter_dir=args.dead_letter_dir,
                dead_letter_max_bytes=args.dead_letter_max_bytes,
                drain_seconds=args.drain_seconds,
                limits=from_arguments(args),
            )
        except ConfigError as error:
            parser.error(f"--config: {error}")
        except OSError as error:  # a port in use, an unreadable config file or spool directory
            parser.error(str(error))

    if args.command == "demo":
        from genai_otel.demo import run

        return run()
    if args.command == "semconv":
        from genai_otel import _semconv_gen

        if args.action == "diff":
            return _run_semconv_diff(args.checkout)
        if args.action == "generate":
            print(f"wrote {_semconv_gen.generate()}")
            return 0
        if _semconv_gen.is_stale():
            print("semconv.py is stale: run `genai-otel semconv generate`", file=sys.stderr)
            return 1
        print("semconv.py is current")
        return 0
    from genai_otel.testing.model_server import ModelServer

    model_server = ModelServer(args.host, args.port)
    print(f"model server on {model_server.url} (OpenAI base_url {model_server.openai_base_url})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        model_server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
