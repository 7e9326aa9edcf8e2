"""The ``digits`` console script: up, submit, predict, status, train, and one service each.

The top of the project: it may import every layer below it, and nothing imports it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

DEFAULT_URL = "http://127.0.0.1:8080"
# Commands that hand every argument to a service's own parser (``digits train --help``).
PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}

url_option = click.option("--url", envvar="DIGITS_URL", default=DEFAULT_URL, show_default=True,
                          help="gateway URL (env DIGITS_URL)")
key_option = click.option("--api-key", envvar="DIGITS_API_KEY", default=None,
                          help="API key, when the gateway requires one (env DIGITS_API_KEY)")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Reads handwritten digits from scans: one image over HTTP, or whole folders in batch."""


@cli.command()
@click.option("--workers", type=click.IntRange(min=1), help="number of workers (env DIGITS_WORKERS, default 2)")
@click.option("--port", type=click.IntRange(1, 65535), help="gateway port (env DIGITS_GATEWAY_PORT, default 8080)")
def up(workers: int | None, port: int | None) -> int:
    """Run the whole stack locally: Redis, model server, workers, gateway.

    A model base with no model gets the shipped ones first (`digits seed`); nothing is trained.
    """
    from digits.stack import StackSettings
    from digits.stack import up as run_stack

    settings = StackSettings.from_env()
    changes = {key: value for key, value in (("workers", workers), ("gateway_port", port)) if value}
    return run_stack(settings.model_copy(update=changes))


@cli.command()
@click.option("--model-base", type=click.Path(path_type=Path), envvar="DIGITS_MODEL_BASE", default=Path("models"),
              show_default=True, help="model base path (env DIGITS_MODEL_BASE)")
def seed(model_base: Path) -> int:
    """Install the shipped models as version 1 where the model base has none (checksums verified)."""
    from trainer.shipped import ShippedModelError, install_missing

    try:
        if not install_missing(model_base, say=click.echo):
            click.echo(f"every shipped model already has a version in {model_base}; nothing to do")
    except ShippedModelError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    return 0


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("results.csv"), show_default=True,
              help="results file, .csv or .jsonl; files already in it are skipped")
@url_option
@key_option
@click.option("--files-per-request", type=click.IntRange(min=1), default=250, show_default=True,
              help="images per upload (one batch each)")
@click.option("--parallel", type=click.IntRange(min=1), default=4, show_default=True, help="uploads in flight at once")
def submit(folder: Path, output: Path, url: str, api_key: str | None, files_per_request: int, parallel: int) -> int:
    """Read every image in a folder (recursively) and write the results to CSV or JSONL."""
    from digits.submit import submit as run_submit

    return run_submit(folder, url, output, files_per_request, parallel, api_key=api_key)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@url_option
@key_option
def predict(files: tuple[Path, ...], url: str, api_key: str | None) -> int:
    """Read digits from image files through a running gateway."""
    from digits.client import GatewayClient, GatewayError

    client = GatewayClient(url, api_key=api_key)
    failures = 0
    for path in files:
        try:
            result = client.post_files("/v1/predict", "file", [(path.name, path.read_bytes())])
            review = "  needs review" if result.get("needs_review") else ""
            click.echo(f"{path}\t{result['digits']}\t{result['confidence']:.4f}{review}")
        except (OSError, GatewayError) as exc:
            failures += 1
            click.echo(f"{path}\terror\t{exc}", err=True)
    return 1 if failures else 0


@cli.command()
@click.argument("batch_id", required=False)
@url_option
@key_option
def status(batch_id: str | None, url: str, api_key: str | None) -> int:
    """Show whether the stack is ready, or the progress of one batch."""
    from contracts.batches import DONE, QUEUED, RUNNING
    from digits.client import GatewayClient, GatewayError

    client = GatewayClient(url, timeout=10, api_key=api_key)
    try:
        body = client.get_json(f"/v1/batches/{batch_id}" if batch_id else "/readyz")
    except GatewayError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    click.echo(json.dumps(body, indent=2))
    return 0 if body.get("status") in ("ok", DONE, QUEUED, RUNNING) else 1


@cli.command()
@click.argument("model")
@click.argument("version", type=click.IntRange(min=1))
@click.option("--label", default="stable", show_default=True, help="the label to move")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="DIGITS_MODEL_CONFIG_FILE", default=Path("serving/config/models.config"), show_default=True,
              help="the models.config the servers read (env DIGITS_MODEL_CONFIG_FILE)")
@click.option("--rest-url", envvar="DIGITS_SERVING_REST_URL", default="http://127.0.0.1:8501", show_default=True,
              help="the model server's REST status, to wait on (env DIGITS_SERVING_REST_URL)")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="seconds to wait for each step")
def promote(model: str, version: int, label: str, config_file: Path, rest_url: str, timeout: float) -> int:
    """Point a label of a model (stable by default) at a version: load it, move the label, unload the rest."""
    from digits.promote import PromotionError
    from digits.promote import promote as run_promote

    try:
        run_promote(config_file, model, version, label, rest_url, timeout=timeout, say=click.echo)
    except PromotionError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    return 0


@cli.command(context_settings=PASSTHROUGH, add_help_option=False)
@click.pass_context
def train(ctx: click.Context) -> int:
    """Train and export a model version (see `digits train --help`)."""
    from trainer.__main__ import main as train_main

    return train_main(ctx.args)


@cli.command()
def serve() -> int:
    """Run the local TF-Serving-compatible model server."""
    from serving.__main__ import main as serve_main

    return serve_main()


@cli.command()
def worker() -> int:
    """Run an RQ worker."""
    from worker.__main__ import main as worker_main

    return worker_main()


@cli.command()
def gateway() -> int:
    """Run the HTTP gateway."""
    from gateway.__main__ import main as gateway_main

    return gateway_main()


COMMANDS = cli.commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (the console script's entry point)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        click.echo(cli.get_help(click.Context(cli, info_name="digits", help_option_names=["-h", "--help"])))
        return 0
    try:
        result = cli.main(args=args, prog_name="digits", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 1
    return result if isinstance(result, int) else 0
