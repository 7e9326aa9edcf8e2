// The digits web page: draw a digit, or drop a folder and follow its batch. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
// A folder goes up in several requests, each one batch; the page follows them as one.
const state = { batches: [], uploads: [], cancelled: false, thumbs: [], cursor: { batch: 0, offset: 0 }, timer: null,
  lastCount: 0, lastTime: 0, generation: 0 };

// --- API ------------------------------------------------------------------------------
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("digits.apiKey") || "";
keyInput.addEventListener("change", () => localStorage.setItem("digits.apiKey", keyInput.value.trim()));

function authHeaders() {
  const key = keyInput.value.trim();
  return key ? { "X-API-Key": key } : {};
}

const RATE_LIMIT_RETRIES = 5;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Seconds to wait before sending a request refused by the gateway's rate limit (429) again.
function retryAfter(header) {
  const seconds = Number(header);
  return Math.min(Math.max(Number.isFinite(seconds) && header !== null ? seconds : 1, 0.1), 60);
}

async function api(path, options = {}) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
    if (response.status === 429 && attempt < RATE_LIMIT_RETRIES) {
      await sleep(1000 * retryAfter(response.headers.get("Retry-After")));
      continue;
    }
    if (!response.ok) throw await errorOf(response.status, await response.text());
    return response;
  }
}

function errorOf(status, text) {
  try {
    const body = JSON.parse(text);
    const error = new Error(body.error.message);
    error.code = body.error.code;
    return error;
  } catch (parseError) {
    return new Error(`HTTP ${status}`);
  }
}

const percent = (value) => (value == null ? "" : `${(100 * value).toFixed(1)}%`);

function inputFigure(digit) {
  const figure = document.createElement("figure");
  const img = document.createElement("img");
  img.className = "input";
  img.alt = `model input for ${digit.digit}`;
  img.src = `data:image/png;base64,${digit.input_png}`;
  const caption = document.createElement("figcaption");
  caption.textContent = `${digit.digit} · ${percent(digit.confidence)}`;
  figure.append(img, caption);
  return figure;
}

// --- Drawing --------------------------------------------------------------------------
const canvas = $("canvas");
const pen = canvas.getContext("2d");
let drawing = false;
let dirty = false;
let readTimer = null;

function clearCanvas() {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, canvas.width, canvas.height);
  dirty = false;
  $("pred-digits").textContent = "";
  $("pred-detail").textContent = "";
  $("pred-inputs").replaceChildren();
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * (canvas.width / box.width), (event.clientY - box.top) * (canvas.height / box.height)];
}

canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  dirty = true;
  clearTimeout(readTimer);
  canvas.setPointerCapture(event.pointerId);
  pen.strokeStyle = "#111";
  pen.lineWidth = 18;
  pen.lineCap = pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(...point(event));
  pen.lineTo(...point(event));
  pen.stroke();
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  pen.lineTo(...point(event));
  pen.stroke();
});
function endStroke() {
  if (!drawing) return;
  drawing = false;
  readTimer = setTimeout(readDrawing, 600); // read once the writer pauses
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);
$("clear").addEventListener("click", clearCanvas);
$("read").addEventListener("click", readDrawing);

async function readDrawing() {
  clearTimeout(readTimer);
  if (!dirty) return;
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const form = new FormData();
  form.append("file", blob, "drawing.png");
  $("pred-detail").textContent = "reading…";
  try {
    const reading = await (await api("/v1/predict?include_inputs=true", { method: "POST", body: form })).json();
    $("pred-digits").textContent = reading.digits;
    $("pred-detail").textContent = `confidence ${percent(reading.confidence)}` +
      (reading.needs_review ? " · needs review" : "") +
      ` · read by ${{string: "the string model", both: "both models"}[reading.reader] || "the digit model"}` +
      ` v${reading.model_version}`;
    $("pred-inputs").replaceChildren(...reading.per_digit.map(inputFigure));
  } catch (error) {
    $("pred-digits").textContent = "";
    $("pred-detail").textContent = error.code === "no_digit_found" ? "No digit found: draw one." : error.message;
    $("pred-inputs").replaceChildren();
  }
}
clearCanvas();

// --- Choosing files -------------------------------------------------------------------
const dropzone = $("dropzone");
["dragenter", "dragover"].forEach((type) => dropzone.addEventListener(type, (event) => {
  event.preventDefault();
  dropzone.classList.add("over");
}));
dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
dropzone.addEventListener("drop", async (event) => {
  event.preventDefault();
  dropzone.classList.remove("over");
  submitBatch(await droppedFiles(event.dataTransfer));
});
$("file-input").addEventListener("change", (event) => submitBatch(chosenFiles(event.target)));
$("folder-input").addEventListener("change", (event) => submitBatch(chosenFiles(event.target)));

function chosenFiles(input) {
  const items = [...input.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
  input.value = "";
  return items;
}

async function droppedFiles(transfer) {
  const entries = [...transfer.items].map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) return [...transfer.files].map((file) => ({ file, path: file.name }));
  const found = [];
  for (const entry of entries) await walk(entry, found);
  return found;
}

async function walk(entry, found) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    found.push({ file, path: entry.fullPath.replace(/^\//, "") });
    return;
  }
  const reader = entry.createReader();
  for (;;) { // readEntries answers in slices until it returns none
    const slice = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!slice.length) break;
    for (const child of slice) await walk(child, found);
  }
}

// --- A folder: upload in several batches, progress, results ---------------------------
// Like `digits submit`: a small first request, so that reading starts at once, then requests
// of FILES_PER_REQUEST files, a few in flight. Each request makes a batch of its own; the page
// follows them as one (progress, results, CSV, cancel).
const FIRST_REQUEST_FILES = 32;
const FILES_PER_REQUEST = 250;
const PARALLEL_UPLOADS = 3;
const POLLED_PER_ROUND = 3; // batches are read in upload order: ask about the oldest unfinished ones
const PAGE = 200;
const FINISHED = ["done", "failed", "cancelled"];

function splitRequests(items) {
  const requests = [items.slice(0, FIRST_REQUEST_FILES)];
  for (let i = FIRST_REQUEST_FILES; i < items.length; i += FILES_PER_REQUEST) {
    requests.push(items.slice(i, i + FILES_PER_REQUEST));
  }
  return requests.filter((request) => request.length);
}

async function submitBatch(items) {
  if (!items.length) return;
  items.sort((a, b) => a.path.localeCompare(b.path, undefined, { numeric: true }));
  resetBatches();
  const generation = state.generation; // a newer upload makes this one's answers stale
  const requests = splitRequests(items);
  const sizes = requests.map((request) => request.reduce((sum, { file }) => sum + file.size, 0));
  const total = sizes.reduce((a, b) => a + b, 0) || 1;
  const loaded = requests.map(() => 0);
  const slots = new Array(requests.length);
  let sent = 0;
  let failure = null;
  showProgress(0, `uploading ${items.length} files…`);
  $("batch-error").textContent = "";
  $("cancel").disabled = false;
  const onProgress = (index, bytes) => {
    if (generation !== state.generation) return;
    loaded[index] = bytes;
    const fraction = loaded.reduce((a, b) => a + b, 0) / total;
    showProgress(fraction, `uploading: ${percent(fraction)} (${sent} of ${items.length} files sent)`);
  };
  let next = 0;
  async function uploader() {
    while (next < requests.length && !failure && !state.cancelled) {
      const index = next++;
      try {
        const batch = await uploadRequest(requests[index], (bytes) => onProgress(index, bytes));
        // A zip's contents are unpacked on the server: only loose files can be shown from here.
        const local = requests[index].some(({ path }) => /\.zip$/i.test(path)) ? null
          : requests[index].map(({ file }) => file);
        slots[index] = { ...batch, local };
        sent += requests[index].length;
        onProgress(index, sizes[index]);
      } catch (error) {
        failure = failure || error;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, requests.length) }, uploader));
  if (generation !== state.generation) return;
  // Batches in upload order; a request that failed or was never sent leaves a gap.
  const batches = [];
  for (const slot of slots) {
    if (!slot) break;
    batches.push(slot);
  }
  if (failure && !state.cancelled) {
    $("batch-error").textContent = batches.length
      ? `The upload stopped after ${sent} of ${items.length} files: ${failure.message}`
      : failure.message;
  }
  if (state.cancelled) await cancelBatches(slots.filter(Boolean));
  if (!batches.length) {
    if (!state.cancelled) $("progress-box").hidden = true;
    return;
  }
  followBatches(batches);
}

function uploadRequest(items, onProgress) {
  const form = new FormData();
  items.forEach(({ file, path }) => form.append("files", file, path));
  return new Promise((resolve, reject) => {
    const send = (attempt) => {
      const request = new XMLHttpRequest();
      state.uploads.push(request);
      request.open("POST", "/v1/batches?include_inputs=true");
      Object.entries(authHeaders()).forEach(([name, value]) => request.setRequestHeader(name, value));
      request.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded); };
      request.onerror = () => reject(new Error("The upload failed: is the server up?"));
      request.onabort = () => reject(new Error("The upload was cancelled."));
      request.onload = () => {
        if (request.status === 429 && attempt < RATE_LIMIT_RETRIES) {
          setTimeout(() => send(attempt + 1), 1000 * retryAfter(request.getResponseHeader("Retry-After")));
        } else if (request.status === 202) {
          resolve(JSON.parse(request.responseText));
        } else {
          reject(errorOf(request.status, request.responseText));
        }
      };
      request.send(form);
    };
    send(0);
  });
}

function resetBatches() {
  clearTimeout(state.timer);
  state.uploads.forEach((request) => request.abort());
  state.thumbs.forEach((url) => URL.revokeObjectURL(url));
  Object.assign(state, { batches: [], uploads: [], cancelled: false, thumbs: [], cursor: { batch: 0, offset: 0 },
    generation: state.generation + 1 });
  $("rows").replaceChildren();
  $("results").hidden = true;
}

function showProgress(fraction, text) {
  $("progress-box").hidden = false;
  $("progress").value = fraction;
  $("progress-text").textContent = text;
}

function followBatches(batches) {
  clearTimeout(state.timer);
  state.cursor = { batch: 0, offset: 0 };
  let start = 0;
  state.batches = batches.map((batch) => {
    const followed = { ...batch, start };
    start += batch.total;
    return followed;
  });
  Object.assign(state, { lastCount: processedOf(state.batches), lastTime: performance.now() });
  history.replaceState(null, "", `#batches=${state.batches.map((batch) => batch.id).join(",")}`);
  $("cancel").disabled = false;
  poll();
}

const processedOf = (batches) => batches.reduce((sum, batch) => sum + batch.processed, 0);
const sumOf = (key) => state.batches.reduce((sum, batch) => sum + (batch[key] || 0), 0);

// One status for all the batches: still running while any is; at the end, cancelled if any
// was, failed if any failed, else done.
function overallStatus() {
  const statuses = state.batches.map((batch) => batch.status);
  if (statuses.some((status) => !FINISHED.includes(status))) {
    return statuses.every((status) => status === "queued") ? "queued" : "running";
  }
  if (statuses.includes("cancelled")) return "cancelled";
  return statuses.includes("failed") ? "failed" : "done";
}

async function poll() {
  const open = state.batches.filter((batch) => !FINISHED.includes(batch.status)).slice(0, POLLED_PER_ROUND);
  try {
    const fresh = await Promise.all(open.map(async (batch) => (await api(`/v1/batches/${batch.id}`)).json()));
    fresh.forEach((batch, i) => Object.assign(open[i], batch));
  } catch (error) {
    $("batch-error").textContent = error.message;
    return;
  }
  const now = performance.now();
  const processed = processedOf(state.batches);
  const rate = (processed - state.lastCount) / Math.max((now - state.lastTime) / 1000, 0.001);
  Object.assign(state, { lastCount: processed, lastTime: now });
  const status = overallStatus();
  const finished = FINISHED.includes(status);
  const total = sumOf("total");
  let text = `${status}: ${processed} of ${total} read`;
  if (sumOf("failed")) text += ` (${sumOf("failed")} could not be read)`;
  if (sumOf("cancelled")) text += `, ${sumOf("cancelled")} cancelled`;
  if (!finished && rate > 0) text += ` · ${rate.toFixed(0)} images/s`;
  const errors = [...new Set(state.batches.map((batch) => batch.error).filter(Boolean))];
  if (errors.length) text += ` · ${errors.join("; ")}`;
  if (state.batches.length > 1) text += ` · ${state.batches.length} batches`;
  showProgress(total ? processed / total : 1, text);
  $("progress-box").dataset.status = status;
  if (finished) {
    $("cancel").disabled = true;
    loadResults();
  } else {
    state.timer = setTimeout(poll, 500);
  }
}

async function cancelBatches(batches) {
  await Promise.all(batches.filter((batch) => !FINISHED.includes(batch.status)).map(async (batch) => {
    try {
      await api(`/v1/batches/${batch.id}`, { method: "DELETE" });
    } catch (error) {
      if (error.code !== "batch_finished") throw error;
    }
  }));
}

$("cancel").addEventListener("click", async () => {
  state.cancelled = true; // requests not yet sent are not sent
  try {
    await cancelBatches(state.batches);
  } catch (error) {
    $("batch-error").textContent = error.message;
  }
});

// The next PAGE rows, across batches in upload order.
async function loadResults() {
  const rows = [];
  const cursor = state.cursor;
  while (rows.length < PAGE && cursor.batch < state.batches.length) {
    const batch = state.batches[cursor.batch];
    if (cursor.offset >= batch.total) {
      Object.assign(cursor, { batch: cursor.batch + 1, offset: 0 });
      continue;
    }
    const want = PAGE - rows.length;
    const body = await (await api(`/v1/batches/${batch.id}/results?format=json&offset=${cursor.offset}&limit=${want}`))
      .json();
    rows.push(...body.results.map((row) => resultRow(row, batch)));
    cursor.offset += want;
  }
  while (cursor.batch < state.batches.length && cursor.offset >= state.batches[cursor.batch].total) {
    Object.assign(cursor, { batch: cursor.batch + 1, offset: 0 });
  }
  $("rows").append(...rows);
  $("more").hidden = cursor.batch >= state.batches.length;
  $("results").hidden = false;
}
$("more").addEventListener("click", loadResults);

function resultRow(row, batch) {
  const tr = document.createElement("tr");
  if (row.needs_review) tr.className = "review";
  const image = document.createElement("td");
  const local = batch.local && batch.local[row.index];
  if (local) {
    const img = document.createElement("img");
    img.className = "thumb";
    img.alt = row.file;
    img.src = URL.createObjectURL(local);
    state.thumbs.push(img.src);
    image.append(img);
  } else {
    image.append(...(row.per_digit || []).filter((d) => d.input_png).map((d) => inputFigure(d).firstChild));
  }
  const cells = [row.file, row.digits ?? "", percent(row.confidence), row.needs_review ? "yes" : "",
    row.error ? row.error.message : ""].map((text) => {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  });
  tr.append(image, ...cells);
  return tr;
}

$("review-only").addEventListener("change", (event) => $("rows").classList.toggle("review-only", event.target.checked));

// --- CSV ------------------------------------------------------------------------------
// A cell a spreadsheet would run as a formula (it starts with = + - @, a tab or a CR) gets a
// leading quote, and NUL bytes go: the rule of contracts.rows.csv_cell (OWASP's advice).
function csvCell(text) {
  const value = String(text).replace(/\0/g, "");
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function csvField(text) {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// Records of a CSV text (quoted fields may hold commas, quotes and line breaks).
function parseCsv(text) {
  const records = [];
  let record = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\r" || c === "\n") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(field);
      records.push(record);
      record = [];
      field = "";
    } else {
      field += c;
    }
  }
  if (field || record.length) records.push([...record, field]);
  return records;
}

// One CSV for all the batches: each batch's CSV from the server, its index made the index in
// the whole upload, every cell through csvCell.
async function combinedCsv() {
  const lines = [];
  for (const batch of state.batches) {
    const records = parseCsv(await (await api(`/v1/batches/${batch.id}/results?format=csv`)).text());
    if (!lines.length) lines.push(records[0]);
    for (const record of records.slice(1)) lines.push([String(batch.start + Number(record[0])), ...record.slice(1)]);
  }
  return lines.map((record) => record.map((cell) => csvField(csvCell(cell))).join(",")).join("\r\n") + "\r\n";
}

$("download-csv").addEventListener("click", async () => {
  const blob = new Blob([await combinedCsv()], { type: "text/csv" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  const first = state.batches[0].id;
  link.download = state.batches.length > 1 ? `digits-${first}-and-${state.batches.length - 1}-more.csv`
    : `digits-${first}.csv`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
});

// A reload, or a shared link, picks the batches up again (#batch=<id> of older links too).
async function followFromHash() {
  const found = location.hash.match(/^#batch(?:es)?=([0-9a-f]+(?:,[0-9a-f]+)*)$/);
  if (!found) return;
  try {
    const batches = await Promise.all(found[1].split(",").map(async (id) => (await api(`/v1/batches/${id}`)).json()));
    followBatches(batches.map((batch) => ({ ...batch, local: null })));
  } catch (error) {
    $("batch-error").textContent = error.message;
  }
}
followFromHash();
