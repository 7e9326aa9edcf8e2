"""The ``digits`` console script: train, serve, worker, gateway, up, predict."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path

COMMANDS = {
    "train": "train and export a model version (see `digits train --help`)",
    "serve": "run the local TF-Serving-compatible model server",
    "worker": "run an RQ worker",
    "gateway": "run the HTTP gateway",
    "up": "run the whole stack locally: Redis, model server, workers, gateway",
    "predict": "read digits from image files through a running gateway",
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: digits COMMAND [ARGS]\n\ncommands:")
        for name, text in COMMANDS.items():
            print(f"  {name:<9} {text}")
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command == "train":
        from trainer.__main__ import main as train_main

        return train_main(rest)
    if command == "serve":
        from serving.__main__ import main as serve_main

        return serve_main()
    if command == "worker":
        from worker.__main__ import main as worker_main

        return worker_main()
    if command == "gateway":
        from gateway.__main__ import main as gateway_main

        return gateway_main()
    if command == "up":
        return _up(rest)
    return _predict(rest)


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
    train_args = [a for a in args.train_args if a != "--"]
    return up(settings, train_args)


def _predict(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="digits predict", description=COMMANDS["predict"])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="gateway URL")
    args = parser.parse_args(argv)
    failures = 0
    for path in args.files:
        try:
            result = _post_file(f"{args.url.rstrip('/')}/v1/predict", path)
            print(f"{path}\t{result['digit']}\t{result['confidence']:.4f}")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            failures += 1
            print(f"{path}\terror\t{_describe(exc)}", file=sys.stderr)
    return 1 if failures else 0


def _post_file(url: str, path: Path) -> dict:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - user-given URL
        return json.loads(response.read())


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        try:
            return json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError):
            return f"HTTP {exc.code}"
    return str(exc)
