"""``digits submit FOLDER``: send a folder of scans as batches and write the results.

Uploads go in parallel, a few hundred files per request (one batch each). A poller follows the
batches in upload order and appends each finished batch's rows to the output, so an
interrupted run loses at most the batches in flight: re-running skips every file already in
the output.
"""

from __future__ import annotations

import csv
import json
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from contracts.rows import csv_cell
from digits.client import GatewayClient, GatewayError
from digits.files import list_files, read_images

COLUMNS = ("path", "digits", "confidence", "needs_review", "error")
FINAL_POLL_SECONDS = 0.1
FIRST_REQUEST_FILES = 32


@dataclass
class Progress:
    """Counts shown on one status line: uploaded and processed, with rate and ETA."""

    total: int
    stream: TextIO
    uploaded: int = 0
    processed: int = 0
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0

    def show(self, final: bool = False) -> None:
        now = time.monotonic()
        tty = self.stream.isatty()
        if not final and now - self._last < (0.2 if tty else 5.0):
            return
        self._last = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.processed / elapsed
        eta = (self.total - self.processed) / rate if rate > 0 else float("nan")
        eta_text = f"{eta:,.0f}s" if eta == eta else "?"
        line = (f"uploaded {self.uploaded:,}/{self.total:,}  processed {self.processed:,}/{self.total:,}  "
                f"{rate:,.0f} img/s  ETA {eta_text}")
        self.stream.write(("\r" + line + " " * 8) if tty else line + "\n")
        if final and tty:
            self.stream.write("\n")
        self.stream.flush()


class ResultWriter:
    """Appends rows to a CSV or JSONL file (chosen by extension); knows the rows already there.

    A CSV holds each path as :func:`contracts.rows.csv_cell` wrote it (``=x.png`` as ``'=x.png``):
    :meth:`has` compares paths in that form.
    """

    def __init__(self, path: Path):
        self.path = path
        self.jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
        self.done: set[str] = set()
        self.failed_before = 0
        if path.exists():
            for row in self._read():
                self.done.add(row["path"])
                self.failed_before += bool(row.get("error"))
        new = not path.exists() or path.stat().st_size == 0
        self._handle = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._csv = None if self.jsonl else csv.writer(self._handle)
        if new and self._csv:
            self._csv.writerow(COLUMNS)
        self._lock = threading.Lock()

    def has(self, path: str) -> bool:
        """True when ``path`` already has its row in the output."""
        return (path if self.jsonl else csv_cell(path)) in self.done

    def _read(self):
        with open(self.path, newline="", encoding="utf-8") as handle:
            if self.jsonl:
                yield from (json.loads(line) for line in handle if line.strip())
            else:
                yield from csv.DictReader(handle)

    def write(self, rows: list[dict]) -> None:
        with self._lock:
            for row in rows:
                if self.jsonl:
                    self._handle.write(json.dumps(row) + "\n")
                else:
                    # Names and messages that a spreadsheet would run as formulas are neutralised.
                    self._csv.writerow(["" if row[c] is None else csv_cell(row[c]) for c in COLUMNS])
            self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def output_row(path: str, result: dict) -> dict:
    """One output row from a gateway result row."""
    error = result.get("error")
    return {
        "path": path,
        "digits": result.get("digits"),
        "confidence": result.get("confidence"),
        "needs_review": result.get("needs_review"),
        "error": f"{error['code']}: {error['message']}" if error else None,
    }


def submit(folder: Path, url: str, output: Path, files_per_request: int = 250,
           parallel: int = 4, poll_seconds: float = 0.5, stream: TextIO | None = None,
           api_key: str | None = None) -> int:
    """Submit every image under ``folder`` not yet in ``output``; returns the exit code."""
    stream = stream or sys.stderr
    if not folder.is_dir():
        stream.write(f"error: {folder} is not a folder\n")
        return 2
    writer = ResultWriter(output)
    # Files are told apart from images by content as they are uploaded, not in a first pass
    # over the folder: the first request leaves at once, however large the folder.
    files = [(rel, path) for rel, path in list_files(folder) if not writer.has(rel)]
    skipped = len(writer.done)
    client = GatewayClient(url, api_key=api_key)
    progress = Progress(total=len(files), stream=stream)
    counting = threading.Lock()
    chunks = _split(files, files_per_request)
    pending: deque[tuple[str, list[str]]] = deque()
    failures = {"count": 0, "cancelled": 0}
    upload_error: list[GatewayError] = []

    def upload(chunk: list[tuple[str, Path]]) -> None:
        if upload_error:
            return
        images = read_images(chunk)
        with counting:
            progress.total -= len(chunk) - len(images)  # not images: never sent, never counted
        if not images:
            return
        try:
            batch = client.post_folder("/v1/batches", "files", images)
        except GatewayError as exc:
            upload_error.append(exc)
            return
        if batch["total"] != len(images):
            # Rows are matched to files by position: never write them to the wrong files.
            upload_error.append(GatewayError(f"the gateway counted {batch['total']} files of the {len(images)} "
                                             f"sent (batch {batch['id']}); its rows were not written"))
            return
        pending.append((batch["id"], [rel for rel, _ in images]))
        with counting:
            progress.uploaded += len(images)

    try:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = [pool.submit(upload, chunk) for chunk in chunks]
            while True:
                uploading = sum(not f.done() for f in futures)
                _collect(client, pending, writer, progress, failures)
                if not uploading and not pending:
                    break
                # The last batches are awaited more closely: their results end the run.
                last = uploading + len(pending) <= 2
                time.sleep(min(poll_seconds, FINAL_POLL_SECONDS) if last else poll_seconds)
    except KeyboardInterrupt:
        stream.write("\ninterrupted: finished batches are in the output; run again to resume\n")
        writer.close()
        return 130
    progress.show(final=True)
    writer.close()
    done = progress.processed
    failed_total = failures["count"] + writer.failed_before
    stream.write(
        f"{done:,} images processed: {done - failures['count']:,} read, {failures['count']:,} failed; "
        f"{skipped:,} skipped as already in {output} (of which {writer.failed_before:,} had failed)\n"
    )
    if upload_error:
        stream.write(f"error: upload failed: {upload_error[0]}\n")
        return 1
    if failures["cancelled"]:
        stream.write(f"{failures['cancelled']:,} images were not read because their batch was cancelled; "
                     "run again to read them\n")
        return 1
    return 1 if failed_total else 0


def _split(files: list, files_per_request: int) -> list[list]:
    """Requests of ``files_per_request`` files, but a small first one: the workers start
    reading while the full-sized uploads are still being sent."""
    first = min(files_per_request, FIRST_REQUEST_FILES)
    chunks = [files[:first]] + [files[i : i + files_per_request] for i in range(first, len(files), files_per_request)]
    return [chunk for chunk in chunks if chunk]


def _collect(client: GatewayClient, pending: deque, writer: ResultWriter, progress: Progress, failures: dict) -> None:
    """Write the results of batches that have finished, oldest first."""
    for batch_id, names in list(pending)[:8]:
        status = client.get_json(f"/v1/batches/{batch_id}")
        if status["status"] not in ("done", "failed", "cancelled"):  # failed batches still have a row per image
            continue
        failures["cancelled"] += status.get("cancelled", 0)  # someone cancelled it: no rows for those
        rows = [output_row(names[r["index"]], r)
                for r in client.iter_jsonl(f"/v1/batches/{batch_id}/results?format=jsonl")]
        writer.write(rows)
        failures["count"] += sum(1 for r in rows if r["error"])
        progress.processed += len(rows)
        pending.remove((batch_id, names))
    progress.show()
