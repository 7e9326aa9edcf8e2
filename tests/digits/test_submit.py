"""`digits submit` and `digits predict` against the real stack."""

import csv
import json
import time

import numpy as np
import pytest

from contracts.uploads import looks_like_image
from digits.cli import main
from digits.files import list_files, read_images
from digits.submit import _split, submit
from scans.generate import number_scan, render_scan


@pytest.fixture
def folder(tmp_path, mnist):
    root = tmp_path / "scans"
    for i in range(12):
        sub = root / ("a" if i < 6 else "b/deep")
        sub.mkdir(parents=True, exist_ok=True)
        # Extensions lie on purpose: detection is by content.
        name = f"{i:02d}.jpg" if i % 4 else f"{i:02d}.dat"
        (sub / name).write_bytes(render_scan(mnist.x_test[i], fmt="JPEG" if i % 2 else "PNG"))
    (root / "notes.txt").write_text("not an image")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    return root


def _numbers_of_lengths(mnist, lengths: list[int]) -> list[bytes]:
    """Scans of handwritten numbers with these many digits (MNIST test digits, fixed seed)."""
    rng = np.random.default_rng(7)
    picks = iter(range(len(mnist.x_test)))
    return [number_scan([mnist.x_test[next(picks)] for _ in range(n)], rng) for n in lengths]


def _rows(path):
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _images(folder):
    return [rel for rel, _ in read_images(list(list_files(folder)))]


def test_images_are_found_by_content(folder):
    found = _images(folder)
    assert "notes.txt" not in found
    assert "a/broken.png" in found and "b/deep/08.dat" in found
    assert len(found) == 13
    assert looks_like_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
    assert not looks_like_image(b"%PDF-1.7")


def test_submit_writes_every_image_once_and_resumes(gateway_url, folder, tmp_path, mnist, capsys):
    out = tmp_path / "results.csv"
    assert submit(folder, gateway_url, out, files_per_request=5, parallel=2, poll_seconds=0.1) == 1
    rows = _rows(out)
    assert sorted(r["path"] for r in rows) == sorted(_images(folder))
    broken = next(r for r in rows if r["path"] == "a/broken.png")
    assert broken["error"].startswith("invalid_image") and broken["digits"] == ""
    good = [r for r in rows if not r["error"]]
    correct = sum(r["digits"] == str(mnist.y_test[int(r["path"][-6:-4])]) for r in good)
    assert correct >= 9
    assert all(r["needs_review"] in ("True", "False") for r in good)
    assert "13 images processed: 12 read, 1 failed" in capsys.readouterr().err

    # Re-running sends nothing new; the earlier failure still makes the exit code non-zero.
    assert submit(folder, gateway_url, out, poll_seconds=0.1) == 1
    assert len(_rows(out)) == 13
    (folder / "b" / "new.png").write_bytes(render_scan(mnist.x_test[20]))
    assert submit(folder, gateway_url, out, poll_seconds=0.1) == 1
    rows = _rows(out)
    assert len(rows) == 14 and rows[-1]["path"] == "b/new.png"


def test_submit_jsonl_and_success_exit_code(gateway_url, folder, tmp_path):
    (folder / "a" / "broken.png").unlink()
    out = tmp_path / "results.jsonl"
    assert main(["submit", str(folder), "--url", gateway_url, "-o", str(out)]) == 0
    rows = _rows(out)
    assert len(rows) == 12 and all(r["error"] is None and r["digits"].isdigit() for r in rows)


def test_a_folder_travels_as_one_zip_and_keeps_its_paths_and_order(gateway_url, mnist):
    from digits.client import GatewayClient

    client = GatewayClient(gateway_url)
    files = list(zip(["z/0.png", "a/1.png", "m/deep/2.png"], _numbers_of_lengths(mnist, [1, 2, 3])))
    batch = client.post_folder("/v1/batches", "files", files)
    assert batch["total"] == 3
    deadline = time.monotonic() + 60
    while client.get_json(f"/v1/batches/{batch['id']}")["status"] != "done":
        assert time.monotonic() < deadline, "batch did not finish"
        time.sleep(0.1)
    rows = list(client.iter_jsonl(f"/v1/batches/{batch['id']}/results?format=jsonl"))
    assert [r["file"] for r in rows] == [name for name, _ in files]
    # Each file holds a number of another length: a row matched to the wrong file shows in its
    # length, whatever the tiny model (whose readings vary from CPU to CPU) makes of the digits.
    assert [len(r["digits"]) for r in rows] == [1, 2, 3]


def test_images_named_like_archiver_clutter_still_get_their_rows(gateway_url, tmp_path, mnist):
    # Inside a zip the gateway skips these paths, so they must travel as plain parts.
    root = tmp_path / "odd"
    names = {"__MACOSX/3.png": 1, "a/Thumbs.db": 2, "a/plain.png": 3}
    for name, scan in zip(names, _numbers_of_lengths(mnist, list(names.values()))):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(scan)
    out = tmp_path / "odd.csv"
    assert submit(root, gateway_url, out, poll_seconds=0.1) == 0
    rows = _rows(out)
    assert {r["path"]: len(r["digits"]) for r in rows} == names
    assert all(r["digits"].isdigit() for r in rows)


def test_submit_reports_an_unreachable_gateway(folder, tmp_path, capsys):
    from digits.processes import free_port

    assert submit(folder, f"http://127.0.0.1:{free_port()}", tmp_path / "r.csv", poll_seconds=0.05) == 1
    assert "cannot reach the gateway" in capsys.readouterr().err


def test_predict_and_status_commands(gateway_url, tmp_path, mnist, capsys):
    scan = tmp_path / "seven.png"
    scan.write_bytes(render_scan(mnist.x_test[0]))
    assert main(["predict", str(scan), "--url", gateway_url]) == 0
    assert capsys.readouterr().out.split("\t")[1] == "7"
    assert main(["status", "--url", gateway_url]) == 0
    assert json.loads(capsys.readouterr().out)["checks"]["redis"] == "ok"
    assert main(["status", "nope", "--url", gateway_url]) == 1


def test_client_commands_send_the_api_key(redis_url, capsys, monkeypatch):
    import threading

    from werkzeug.serving import make_server

    from gateway import create_app
    from gateway.settings import GatewaySettings

    app = create_app(GatewaySettings(redis_url=redis_url.rsplit("/", 1)[0] + "/7", api_keys=("k-1",)))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        assert main(["status", "nope", "--url", url]) == 1
        assert "HTTP 401: send an API key" in capsys.readouterr().err
        monkeypatch.setenv("DIGITS_API_KEY", "k-1")
        assert main(["status", "nope", "--url", url]) == 1
        assert "HTTP 404: no batch with id 'nope'" in capsys.readouterr().err
    finally:
        server.shutdown()


def test_submit_ends_when_the_last_results_are_in_not_a_poll_later(gateway_url, folder, tmp_path):
    # One batch: the whole run is one upload and the wait for its results. A poll interval of
    # a minute must not be slept through once the uploads are done, nor after the last rows.
    out = tmp_path / "results.csv"
    started = time.monotonic()
    assert submit(folder, gateway_url, out, poll_seconds=60) == 1
    assert time.monotonic() - started < 30
    assert len(_rows(out)) == 13


@pytest.mark.parametrize("count", [0, 1, 32, 33, 282, 283, 1000])
def test_requests_cover_every_file_once_in_order_with_a_small_first_one(count):
    files = list(range(count))
    chunks = _split(files, 250)
    assert [f for chunk in chunks for f in chunk] == files
    assert all(chunks) and all(len(chunk) <= 250 for chunk in chunks)
    if count:
        assert len(chunks[0]) == min(count, 32)


def test_submit_csv_neutralises_names_that_spreadsheets_would_run_and_still_resumes(gateway_url, tmp_path, mnist):
    root = tmp_path / "formulas"
    root.mkdir()
    names = ["=cmd|' \\C calc'!A0.png", "+SUM(1).png", "@x.png", "-2+3.png", "\tlead.png", "plain.png"]
    for i, name in enumerate(names):
        (root / name).write_bytes(render_scan(mnist.x_test[i]))
    out = tmp_path / "formulas.csv"
    assert submit(root, gateway_url, out, poll_seconds=0.1) == 0
    paths = [r["path"] for r in _rows(out)]
    assert sorted(paths) == sorted(("'" + n if n[0] in "=+-@\t" else n) for n in names)
    # Re-running finds every file in the output, in its neutralised form: nothing is sent twice.
    assert submit(root, gateway_url, out, poll_seconds=0.1) == 0
    assert len(_rows(out)) == len(names)


def test_the_client_waits_out_the_gateways_rate_limit(redis_url):
    import threading

    from werkzeug.serving import make_server

    from digits.client import GatewayClient
    from gateway import create_app
    from gateway.settings import GatewaySettings

    app = create_app(GatewaySettings(redis_url=redis_url.rsplit("/", 1)[0] + "/8", api_keys=("k-1",),
                                     rate_limit="2/second"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = GatewayClient(f"http://127.0.0.1:{server.server_port}", api_key="k-1")
        started = time.monotonic()
        assert all(client.get_json("/v1/batches")["batches"] == [] for _ in range(6))
        assert time.monotonic() - started >= 1  # it did have to wait
    finally:
        server.shutdown()
