"""The web page in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)
against the whole stack: drawing, upload by picker and by drag and drop, live progress,
results, the needs-review filter and the CSV download."""

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


@pytest.fixture
def page(browser, gateway_url):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(gateway_url)
    yield page
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def test_drawing_a_digit_shows_the_prediction_and_what_the_model_saw(page):
    box = page.locator("#canvas").bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 50)
    page.mouse.down()
    for step in range(1, 19):  # a one: a single upright stroke
        page.mouse.move(x + step * 0.5, box["y"] + 50 + step * 10)
    page.mouse.up()
    page.locator("#read").click()
    page.wait_for_function("document.getElementById('pred-digits').textContent !== ''", timeout=30_000)
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
    page.wait_for_function("document.getElementById('pred-detail').textContent.includes('No digit')",
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
    page.wait_for_function("document.getElementById('progress-box').dataset.status === 'running'", timeout=60_000)
    page.locator("#cancel").click()
    page.wait_for_selector("#results:not([hidden])", timeout=60_000)
    text = page.locator("#progress-text").text_content()
    assert text.startswith("cancelled:") and "cancelled" in text.split("read", 1)[1]
