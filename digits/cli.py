"""The ``digits`` console script: train, serve, worker, gateway, up, submit, predict, status."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

COMMANDS = {
    "up": "run the whole stack locally: Redis, model server, workers, gateway",
    "submit": "read every image in a folder (recursively) and write the results to CSV or JSONL",
    "predict": "read digits from image files through a running gateway",
    "status": "show whether the stack is ready, or the progress of one batch",
    "train": "train and export a model version (see `digits train --help`)",
    "serve": "run the local TF-Serving-compatible model server",
    "worker": "run an RQ worker",
    "gateway": "run the HTTP gateway",
}
DEFAULT_URL = os.environ.get("DIGITS_URL", "http://127.0.0.1:8080")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: digits COMMAND [ARGS]   (digits COMMAND --help for its options)\n\ncommands:")
        for name, text in COMMANDS.items():
            print(f"  {name:<9} {text}")
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command == "train":
        from trainer.__main__ import main as train_main

        return train_main(rest)
    if command in ("serve", "worker", "gateway"):
        module = {"serve": "serving", "worker": "worker", "gateway": "gateway"}[command]
        return __import__(f"{module}.__main__", fromlist=["main"]).main()
    return {"up": _up, "submit": _submit, "predict": _predict, "status": _status}[command](rest)


def _up(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="digits up", description=COMMANDS["up"])
    parser.add_argument("--workers", type=int, help="number of workers (env DIGITS_WORKERS, default 2)")
    parser.add_argument("--port", type=int, help="gateway port (env DIGITS_GATEWAY_PORT, default 8080)")
    parser.add_argument("train_args", nargs=argparse.REMAINDER,
                        help="after --, flags for the trainer if a model must be trained first")
    args = parser.parse_args(argv)
    from dataclasses import replace

    from digits.stack import StackSettings, up

    settings = StackSettings.from_env()
    if args.workers:
        settings = replace(settings, workers=args.workers)
    if args.port:
        settings = replace(settings, gateway_port=args.port)
    return up(settings, [a for a in args.train_args if a != "--"])


def _add_gateway_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=DEFAULT_URL, help="gateway URL (env DIGITS_URL)")
    parser.add_argument("--api-key", default=os.environ.get("DIGITS_API_KEY") or None,
                        help="API key, when the gateway requires one (env DIGITS_API_KEY)")


def _submit(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="digits submit", description=COMMANDS["submit"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path("results.csv"),
                        help="results file; .csv or .jsonl (default results.csv). Files already in it are skipped")
    _add_gateway_args(parser)
    parser.add_argument("--files-per-request", type=int, default=250, help="images per upload (one batch each)")
    parser.add_argument("--parallel", type=int, default=4, help="uploads in flight at once")
    args = parser.parse_args(argv)
    from digits.submit import submit

    return submit(args.folder, args.url, args.output, args.files_per_request, args.parallel, api_key=args.api_key)


def _predict(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="digits predict", description=COMMANDS["predict"])
    parser.add_argument("files", nargs="+", type=Path)
    _add_gateway_args(parser)
    args = parser.parse_args(argv)
    from digits.client import GatewayClient, GatewayError

    client = GatewayClient(args.url, api_key=args.api_key)
    failures = 0
    for path in args.files:
        try:
            result = client.post_files("/v1/predict", "file", [(path.name, path.read_bytes())])
            review = "  needs review" if result.get("needs_review") else ""
            print(f"{path}\t{result['digits']}\t{result['confidence']:.4f}{review}")
        except (OSError, GatewayError) as exc:
            failures += 1
            print(f"{path}\terror\t{exc}", file=sys.stderr)
    return 1 if failures else 0


def _status(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="digits status", description=COMMANDS["status"])
    parser.add_argument("batch_id", nargs="?", help="a batch id; without it, the stack's readiness")
    _add_gateway_args(parser)
    args = parser.parse_args(argv)
    from digits.client import GatewayClient, GatewayError

    client = GatewayClient(args.url, timeout=10, api_key=args.api_key)
    try:
        body = client.get_json(f"/v1/batches/{args.batch_id}" if args.batch_id else "/readyz")
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2))
    return 0 if body.get("status") in ("ok", "done", "queued", "running") else 1
