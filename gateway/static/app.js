// The digits web page: draw a digit, or drop a folder and follow its batch. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { batchId: null, localFiles: [], thumbs: [], offset: 0, timer: null, lastCount: 0, lastTime: 0 };

// --- API ------------------------------------------------------------------------------
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("digits.apiKey") || "";
keyInput.addEventListener("change", () => localStorage.setItem("digits.apiKey", keyInput.value.trim()));

function authHeaders() {
  const key = keyInput.value.trim();
  return key ? { "X-API-Key": key } : {};
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (!response.ok) throw await errorOf(response.status, await response.text());
  return response;
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
      (reading.needs_review ? " · needs review" : "") + ` · model v${reading.model_version}`;
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

// --- A batch: upload, progress, results -----------------------------------------------
function submitBatch(items) {
  if (!items.length) return;
  items.sort((a, b) => a.path.localeCompare(b.path, undefined, { numeric: true }));
  const form = new FormData();
  items.forEach(({ file, path }) => form.append("files", file, path));
  const request = new XMLHttpRequest();
  request.open("POST", "/v1/batches?include_inputs=true");
  Object.entries(authHeaders()).forEach(([name, value]) => request.setRequestHeader(name, value));
  showProgress(0, `uploading ${items.length} files…`);
  $("batch-error").textContent = "";
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) showProgress(event.loaded / event.total, `uploading: ${percent(event.loaded / event.total)}`);
  };
  request.onerror = () => { $("batch-error").textContent = "The upload failed: is the server up?"; };
  request.onload = () => {
    if (request.status !== 202) {
      $("batch-error").textContent = errorOf(request.status, request.responseText).message;
      $("progress-box").hidden = true;
      return;
    }
    const batch = JSON.parse(request.responseText);
    // A zip's contents are unpacked on the server: only loose files can be shown from here.
    state.localFiles = items.some(({ path }) => /\.zip$/i.test(path)) ? [] : items.map(({ file }) => file);
    followBatch(batch.id);
  };
  request.send(form);
}

function showProgress(fraction, text) {
  $("progress-box").hidden = false;
  $("progress").value = fraction;
  $("progress-text").textContent = text;
}

function followBatch(batchId) {
  clearTimeout(state.timer);
  Object.assign(state, { batchId, offset: 0, lastCount: 0, lastTime: performance.now() });
  history.replaceState(null, "", `#batch=${batchId}`);
  state.thumbs.forEach((url) => URL.revokeObjectURL(url));
  state.thumbs = [];
  $("rows").replaceChildren();
  $("results").hidden = true;
  $("cancel").disabled = false;
  poll();
}

async function poll() {
  let batch;
  try {
    batch = await (await api(`/v1/batches/${state.batchId}`)).json();
  } catch (error) {
    $("batch-error").textContent = error.message;
    return;
  }
  const now = performance.now();
  const rate = (batch.processed - state.lastCount) / Math.max((now - state.lastTime) / 1000, 0.001);
  Object.assign(state, { lastCount: batch.processed, lastTime: now });
  const finished = ["done", "failed", "cancelled"].includes(batch.status);
  let text = `${batch.status}: ${batch.processed} of ${batch.total} read`;
  if (batch.failed) text += ` (${batch.failed} could not be read)`;
  if (batch.cancelled) text += `, ${batch.cancelled} cancelled`;
  if (!finished && rate > 0) text += ` · ${rate.toFixed(0)} images/s`;
  if (batch.error) text += ` · ${batch.error}`;
  showProgress(batch.total ? batch.processed / batch.total : 1, text);
  $("progress-box").dataset.status = batch.status;
  if (finished) {
    $("cancel").disabled = true;
    loadResults();
  } else {
    state.timer = setTimeout(poll, 500);
  }
}

$("cancel").addEventListener("click", async () => {
  try {
    await api(`/v1/batches/${state.batchId}`, { method: "DELETE" });
  } catch (error) {
    $("batch-error").textContent = error.message;
  }
});

const PAGE = 200;

async function loadResults() {
  const body = await (await api(`/v1/batches/${state.batchId}/results?format=json&offset=${state.offset}&limit=${PAGE}`)).json();
  $("rows").append(...body.results.map(resultRow));
  state.offset += PAGE;
  $("more").hidden = !body.next;
  $("results").hidden = false;
}
$("more").addEventListener("click", loadResults);

function resultRow(row) {
  const tr = document.createElement("tr");
  if (row.needs_review) tr.className = "review";
  const image = document.createElement("td");
  const local = state.localFiles[row.index];
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

$("download-csv").addEventListener("click", async () => {
  const blob = await (await api(`/v1/batches/${state.batchId}/results?format=csv`)).blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `digits-${state.batchId}.csv`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
});

// A reload, or a shared link, picks the batch up again.
const fromHash = location.hash.match(/^#batch=([0-9a-f]+)$/);
if (fromHash) followBatch(fromHash[1]);
