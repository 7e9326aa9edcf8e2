"""The web page in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against the whole stack: drawing, upload by picker and by drag and drop, live progress,
results, the needs-review filter and the CSV download, a folder of thousands of files sent as
several batches, and the API docs; never a Content-Security-Policy violation."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from tests.conftest import scan_files

CHROMIUM = os.environ.get("DIGITS_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set DIGITS_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


# Every violation of the page's Content-Security-Policy, as the page itself sees them.
RECORD_CSP_VIOLATIONS = """window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ''}`));"""


def _wait_for(page, expression: str, timeout: float = 30_000) -> None:
    """Wait until ``expression`` is true in the page. Not Playwright's wait_for_function: its
    polling evaluates a string inside the page, which the page's CSP rightly refuses."""
    import time

    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


@pytest.fixture
def page(browser, gateway_url):
    context = browser.new_context(accept_downloads=True)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: errors.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text else None)
    page.goto(gateway_url)
    yield page
    violations = page.evaluate("window.cspViolations")
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"
    assert violations == [], f"Content-Security-Policy violations: {violations}"


def test_drawing_a_digit_shows_the_prediction_and_what_the_model_saw(page):
    box = page.locator("#canvas").bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 50)
    page.mouse.down()
    for step in range(1, 19):  # a one: a single upright stroke
        page.mouse.move(x + step * 0.5, box["y"] + 50 + step * 10)
    page.mouse.up()
    page.locator("#read").click()
    _wait_for(page, "document.getElementById('pred-digits').textContent !== ''", timeout=30_000)
    assert page.locator("#pred-digits").text_content() == "1"
    assert "confidence" in page.locator("#pred-detail").text_content()
    seen = page.locator("#pred-inputs img")
    assert seen.count() == 1
    assert seen.first.evaluate("img => img.complete && img.naturalWidth") == 28

    page.locator("#clear").click()
    page.locator("#read").click()  # nothing drawn: nothing sent, nothing shown
    assert page.locator("#pred-digits").text_content() == ""


def test_blank_drawing_says_no_digit_found(page):
    box = page.locator("#canvas").bounding_box()
    page.mouse.click(box["x"] + 3, box["y"] + 3)  # a dot in the corner: a speck, not a digit
    page.locator("#read").click()
    _wait_for(page, "document.getElementById('pred-detail').textContent.includes('No digit')",
                           timeout=30_000)


def _write_scans(folder: Path, mnist, count: int, side: int = 0) -> list[Path]:
    paths = []
    for name, data in scan_files(mnist, count, side=side):
        path = folder / "scans" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_uploading_a_folder_shows_progress_results_filter_and_csv(page, mnist, tmp_path):
    _write_scans(tmp_path, mnist, 24, side=800)
    (tmp_path / "scans" / "notes.txt").write_text("not a scan")
    # Record every progress text the page shows, to prove it moved while the batch ran.
    page.evaluate("""() => { window.seen = [];
        new MutationObserver(() => window.seen.push(document.getElementById('progress-text').textContent))
          .observe(document.getElementById('progress-text'),
                   {childList: true, characterData: true, subtree: true}); }""")
    page.locator("#folder-input").set_input_files(str(tmp_path / "scans"))
    page.wait_for_selector("#results:not([hidden])", timeout=90_000)

    seen = page.evaluate("window.seen")
    assert any(text.startswith("uploading") for text in seen)
    assert any(text.startswith(("queued", "running")) for text in seen)
    assert page.locator("#progress-text").text_content().startswith("done: 25 of 25 read (1 could not be read)")
    assert page.locator("#progress").evaluate("bar => bar.value") == 1

    rows = page.locator("#rows tr")
    assert rows.count() == 25
    assert page.locator("#rows img.thumb").count() == 25  # the files themselves, shown from the browser
    text = page.locator("#rows").inner_text()
    assert "notes.txt" in text and "not an image" in text
    reading = [rows.nth(i).locator("td").nth(2).text_content() for i in range(25)]
    assert sum(r.isdigit() for r in reading) == 24

    flagged = page.locator("#rows tr.review").count()
    assert flagged >= 1  # at least the text file
    page.locator("#review-only").check()
    assert page.locator("#rows tr:visible").count() == flagged
    page.locator("#review-only").uncheck()

    with page.expect_download() as download:
        page.locator("#download-csv").click()
    table = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert table[0] == ["index", "file", "digits", "confidence", "needs_review", "error"]
    assert len(table) == 26
    # The folder's paths, in natural order (page-2 before page-10).
    assert [row[1] for row in table[1:5]] == ["scans/notes.txt", "scans/page-0.png", "scans/page-1.png",
                                              "scans/page-2.png"]

    # A reload picks the batch up from the address, showing the model's inputs instead.
    page.reload()
    page.wait_for_selector("#results:not([hidden])", timeout=30_000)
    assert page.locator("#rows tr").count() == 25
    assert page.locator("#rows img.input").count() >= 24


def test_a_dropped_folder_is_read(page, mnist):
    files = scan_files(mnist, 3)
    page.evaluate("""async (files) => {
        const transfer = new DataTransfer();
        for (const [name, bytes] of files) {
          transfer.items.add(new File([new Uint8Array(bytes)], name, {type: 'image/png'}));
        }
        const zone = document.getElementById('dropzone');
        zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true, cancelable: true}));
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", [[name, list(data)] for name, data in files])
    page.wait_for_selector("#results:not([hidden])", timeout=60_000)
    assert page.locator("#rows tr").count() == 3
    assert [page.locator("#rows tr").nth(i).locator("td").nth(1).text_content() for i in range(3)] == [
        name for name, _ in files]


def test_cancel_button_stops_the_batch(page, mnist, tmp_path):
    paths = _write_scans(tmp_path, mnist, 4, side=2000) * 1
    many = []
    for copy in range(20):  # 80 large pages: long enough to cancel midway
        for path in paths:
            target = path.parent / f"{copy:02d}-{path.name}"
            if not target.exists():
                target.write_bytes(path.read_bytes())
            many.append(target)
    page.locator("#file-input").set_input_files([str(p) for p in many])
    _wait_for(page, "document.getElementById('progress-box').dataset.status === 'running'", timeout=60_000)
    page.locator("#cancel").click()
    page.wait_for_selector("#results:not([hidden])", timeout=60_000)
    text = page.locator("#progress-text").text_content()
    assert text.startswith("cancelled:") and "cancelled" in text.split("read", 1)[1]


def test_the_page_runs_under_its_content_security_policy(browser, gateway_url):
    import requests

    policy = requests.get(gateway_url, timeout=10).headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    # Every test here asserts that nothing was blocked; here an injected inline script is.
    context = browser.new_context()
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    page.goto(gateway_url)
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';
                             document.body.append(s); }""")
    _wait_for(page, "window.cspViolations.length === 1")
    assert page.evaluate("window.ran") is None
    context.close()


def test_the_api_docs_render_under_the_content_security_policy(page, gateway_url):
    page.goto(f"{gateway_url}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 8
    assert "digits" in page.locator(".info .title").text_content()


def test_a_folder_of_thousands_of_files_goes_as_several_batches_followed_as_one(page, mnist, tmp_path):
    from scans.generate import render_scan

    scans = [render_scan(mnist.x_test[i]) for i in range(10)]
    folder = tmp_path / "many"
    for i in range(3000):
        path = folder / f"part-{i // 1000}" / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(scans[i % 10])
    page.locator("#folder-input").set_input_files(str(folder))
    page.wait_for_selector("#results:not([hidden])", timeout=300_000)

    text = page.locator("#progress-text").text_content()
    assert text.startswith("done: 3000 of 3000 read") and "13 batches" in text, text  # 32, then 250 a request
    batch_ids = page.evaluate("location.hash").removeprefix("#batches=").split(",")
    assert len(batch_ids) == 13 and len(set(batch_ids)) == 13

    rows = page.locator("#rows tr")
    assert rows.count() == 200
    page.locator("#more").click()  # the next page spans the second and third batches
    _wait_for(page, "document.querySelectorAll('#rows tr').length === 400")
    names = page.locator("#rows tr td:nth-child(2)").all_text_contents()
    assert names == [f"many/part-{i // 1000}/{i:04d}.png" for i in range(400)]
    assert page.locator("#rows img.thumb").count() == 400

    with page.expect_download() as download:
        page.locator("#download-csv").click()
    table = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert table[0] == ["index", "file", "digits", "confidence", "needs_review", "error"]
    assert [row[0] for row in table[1:]] == [str(i) for i in range(3000)]
    assert [row[1] for row in table[1:]] == [f"many/part-{i // 1000}/{i:04d}.png" for i in range(3000)]
    assert sum(row[2].isdigit() for row in table[1:]) >= 2700


def test_the_csv_download_neutralises_formulas(page, mnist):
    assert page.evaluate("""() => ['=cmd|' + "' /C calc'!A0", '+SUM(1)', '@x', '-2+3', '\\tx', '\\rx',
                                   'a\\0b', '=HYPERLINK("http://x")', 'plain', '7'].map(csvCell)""") == [
        "'=cmd|' /C calc'!A0", "'+SUM(1)", "'@x", "'-2+3", "'\tx", "'\rx", "ab", "'=HYPERLINK(\"http://x\")",
        "plain", "7"]
    names = ["=cmd|' -C calc'!A0.png", "+SUM(1).png", "@x.png", "-2+3.png", '=HYPERLINK("http://x").png']
    scan = scan_files(mnist, 1)[0][1]
    page.evaluate("""async ([names, bytes]) => {
        const transfer = new DataTransfer();
        for (const name of names) transfer.items.add(new File([new Uint8Array(bytes)], name, {type: 'image/png'}));
        const zone = document.getElementById('dropzone');
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    }""", [names, list(scan)])
    page.wait_for_selector("#results:not([hidden])", timeout=60_000)
    with page.expect_download() as download:
        page.locator("#download-csv").click()
    table = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    cells = [cell for row in table for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells), cells
    files = [row[1] for row in table[1:]]
    assert "'=cmd|' -C calc'!A0.png" in files and "'+SUM(1).png" in files and "'@x.png" in files
    assert "'-2+3.png" in files and any(name.startswith("'=HYPERLINK(") for name in files)
