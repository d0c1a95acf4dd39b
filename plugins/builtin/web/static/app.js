// colorfuse serve: the page. Plain JS, no build step; every call goes to this server only.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { config: null, items: [], selected: null, style: null, done: 0, total: 0, inflight: 0 };

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    const message = type.includes("json") ? (await response.json()).error : await response.text();
    throw new Error(message || `${response.status} ${response.statusText}`);
  }
  return type.includes("json") ? response.json() : response.blob();
}

const postJSON = (path, body) =>
  api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

function model() {
  return state.config.models.find((m) => m.name === $("model").value);
}

const takesStyle = (m) => m.global_input || m.takes_hints;

function settings() {
  const look = $("look").value;
  const side = $("max-side").value;
  const m = model();
  return {
    model: m.name, device: $("device").value, look: look || null,
    saturation: parseFloat($("saturation").value), style: takesStyle(m) ? state.style : null,
    max_side: side === "" ? null : parseInt(side, 10),
    strength: m.takes_hints && state.style ? parseFloat($("strength").value) : 1,
  };
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// ---- controls ----------------------------------------------------------------------------------
function fillSelect(select, options) {
  select.replaceChildren(...options.map(([value, label]) => new Option(label, value)));
}

function showModel() {
  const m = model();
  $("card-text").textContent = m.summary;
  fillSelect($("look"), m.looks.length ? m.looks.map((l) => [l, l + (l === m.default_look ? " (default)" : "")])
                                       : [["", "default (one look)"]]);
  $("look").value = m.looks.length ? m.default_look : "";
  const sizes = [128, 192, 256, 320, 384, 512, 768, 1024];
  fillSelect($("max-side"), [["", `model default (${m.default_max_side || "full"} px)`],
                             ...sizes.map((s) => [String(s), `${s} px`]), ["0", "full resolution"]]);
  $("style-box").disabled = !takesStyle(m);
  $("style-note").textContent = m.takes_hints
    ? "Its colours become the palette every photo is steered to (and its global features, where the model has them)."
    : m.global_input ? "Colours every photo as if it were the kind of scene this photo is (its global features)."
    : `${m.name} has no global input, so it cannot take a style image; choose a model with one.`;
  $("strength-box").hidden = !(m.takes_hints && state.style);
  showMode();
}

function modelChanged() {
  $("saturation").value = "1"; // as the look, saturation and style start afresh for the new model
  $("strength").value = "1";
  showModel();
  if (state.style && !takesStyle(model())) clearStyle();
  else settingsChanged();
}

async function chooseStyle(file) {
  setStatus(`reading style image ${file.name}…`);
  try {
    const upload = await api(`/api/files?style=1&name=${encodeURIComponent(file.name)}`, { method: "PUT", body: file });
    if (state.style) api(`/api/files/${state.style}`, { method: "DELETE" }).catch(() => {});
    state.style = upload.id;
    $("style-clear").hidden = false;
    $("strength-box").hidden = !model().takes_hints;
    setStatus(`style: ${upload.name}`);
    settingsChanged();
  } catch (error) {
    setStatus(error.message, true);
    $("style").value = "";
  }
}

function clearStyle() {
  if (state.style) api(`/api/files/${state.style}`, { method: "DELETE" }).catch(() => {});
  state.style = null;
  $("style").value = "";
  $("style-clear").hidden = true;
  $("strength-box").hidden = true;
  settingsChanged();
}

let pending = null;
function settingsChanged() {
  $("saturation-value").textContent = parseFloat($("saturation").value).toFixed(2);
  $("strength-value").textContent = parseFloat($("strength").value).toFixed(2);
  clearTimeout(pending);
  pending = setTimeout(() => {
    updateCommand();
    for (const item of state.items) item.result = null;
    if (state.selected && state.selected.id) render(state.selected).catch(() => {}); // shown on its tile
  }, 150);
}

async function updateCommand() {
  try {
    $("command").textContent = (await postJSON("/api/command", settings())).command;
  } catch (error) {
    $("command").textContent = error.message;
  }
}

// ---- files ---------------------------------------------------------------------------------------
function addTile(item) {
  const li = document.createElement("li");
  li.innerHTML = '<button class="remove" type="button" title="Remove">×</button><img alt="">' +
                 '<div class="name"></div><div class="state">waiting</div>';
  li.querySelector(".name").textContent = item.name;
  li.title = item.name;
  li.addEventListener("click", () => item.id && select(item));
  li.querySelector(".remove").addEventListener("click", (event) => { event.stopPropagation(); remove(item); });
  $("gallery").append(li);
  item.tile = li;
}

function setTileState(item, text, failed = false) {
  item.tile.querySelector(".state").textContent = text;
  item.tile.classList.toggle("failed", failed);
  item.tile.title = failed ? `${item.name}: ${text}` : item.name;
}

function updateProgress() {
  $("progress").hidden = state.total === 0;
  $("progress-bar").max = state.total;
  $("progress-bar").value = state.done;
  $("progress-text").textContent = `${state.done} of ${state.total} done`;
  $("zip").disabled = !state.items.some((item) => item.id);
}

async function addFiles(files) {
  const items = Array.from(files).map((file) => ({ file, name: file.name, id: null, kind: null, result: null }));
  items.forEach(addTile);
  state.items.push(...items);
  state.total += items.length;
  updateProgress();
  for (const item of items) {
    try {
      await upload(item);
    } catch (error) {
      setTileState(item, error.message, true);
    }
    state.done += 1;
    updateProgress();
  }
}

async function upload(item) {
  if (!state.items.includes(item)) return; // removed before its turn
  setTileState(item, "uploading…");
  const sent = await api(`/api/files?name=${encodeURIComponent(item.name)}`, { method: "PUT", body: item.file });
  if (!state.items.includes(item)) { // removed while it was uploading
    await api(`/api/files/${sent.id}`, { method: "DELETE" }).catch(() => {});
    return;
  }
  Object.assign(item, { id: sent.id, kind: sent.kind, notes: sent.notes, file: null, width: sent.width,
                       height: sent.height, hints: [], undo: [] });
  setTileState(item, "colorizing…");
  await render(item, !state.selected);
}

function request(item) {
  return item.kind === "photo" && model().takes_hints ? { ...settings(), hints: item.hints } : settings();
}

async function render(item, show = item === state.selected) {
  const asked = JSON.stringify(request(item));
  state.inflight += 1;
  showBusy();
  watchProgress();
  const result = await postJSON(`/api/files/${item.id}/render`, request(item)).catch((error) => {
    setTileState(item, error.message, true);
    if (item === state.selected) setStatus(error.message, true);
    throw error;
  }).finally(() => {
    state.inflight -= 1;
    showBusy();
  });
  const current = asked === JSON.stringify(request(item)); // else the settings or hints moved on meanwhile
  item.result = current ? result : null; // a stale result is made again when its photo is selected
  setTileState(item, [`done in ${result.seconds.toFixed(1)} s`, ...(item.notes || [])].join("; "));
  if (item.kind === "photo") item.tile.querySelector("img").src = result.url;
  if (current) $("command").textContent = result.command;
  if (show && current) select(item);
}

// the viewer is aria-busy while a render is in flight or due (hints edited, their render not begun)
function showBusy() {
  $("viewer").setAttribute("aria-busy", String(state.inflight > 0 || state.items.some((item) => item.hintsUnsaved)));
}

// a render that takes over a second shows its elapsed and expected time, and how many wait before it
let watching = null;
function watchProgress() {
  if (watching) return;
  watching = setInterval(async () => {
    const status = state.inflight ? await api("/api/status").catch(() => null) : null;
    const run = status && status.running;
    if (!state.inflight) {
      clearInterval(watching);
      watching = null;
    }
    $("render-progress").hidden = !run || run.elapsed_s < 1;
    if (!run || run.elapsed_s < 1) return;
    const bar = $("render-bar");
    if (run.estimate_s) {
      bar.max = 1;
      bar.value = Math.min(0.95, run.elapsed_s / run.estimate_s);
    } else {
      bar.removeAttribute("value"); // no estimate yet: an indeterminate bar
    }
    const about = run.estimate_s ? ` of about ${Math.ceil(run.estimate_s)} s` : "";
    const queued = status.pending ? `; ${status.pending} more waiting` : "";
    $("render-text").textContent = `colorizing ${run.name}: ${Math.floor(run.elapsed_s)} s${about}${queued}`;
  }, 500);
}

async function select(item) {
  if (state.selected !== item) closePicker();
  state.selected = item;
  for (const other of state.items) other.tile.classList.toggle("selected", other === item);
  if (!item.result) {
    setStatus(`colorizing ${item.name}…`);
    await render(item).catch(() => {}); // a failure is shown on the tile and in the status line
    return;
  }
  setStatus("");
  $("viewer").hidden = false;
  const video = item.kind === "video";
  $("compare").hidden = video;
  $("video").hidden = !video;
  if (video) {
    $("video").src = item.result.url;
  } else {
    $("before").src = `/api/files/${item.id}/before`;
    $("after").src = item.result.url;
  }
  $("viewer-name").textContent = video ? `${item.name}: first ${state.config.preview_seconds} s` : item.name;
  $("download").href = `${item.result.url}?download=1`;
  $("download").textContent = `Download ${item.result.download}`;
  showMode();
}

async function remove(item) {
  if (item.id) await api(`/api/files/${item.id}`, { method: "DELETE" }).catch(() => {});
  item.tile.remove();
  state.items = state.items.filter((other) => other !== item);
  if (state.selected === item) {
    closePicker();
    state.selected = null;
    $("viewer").hidden = true;
  }
  updateProgress();
}

async function downloadZip() {
  const ids = state.items.filter((item) => item.id).map((item) => item.id);
  $("zip").disabled = true;
  setStatus(`making the zip of ${ids.length} result(s)…`);
  try {
    const blob = await postJSON("/api/zip", { ids, settings: settings() });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "colorized.zip";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    setStatus("");
  } catch (error) {
    setStatus(error.message, true);
  }
  $("zip").disabled = false;
}

// ---- start -----------------------------------------------------------------------------------------
async function start() {
  try {
    state.config = await api("/api/config");
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  fillSelect($("model"), state.config.models.map((m, i) => [m.name, m.name + (i === 0 ? " (default)" : "")]));
  fillSelect($("device"), state.config.devices.map((d) => [d, d]));
  const pixels = state.config.max_pixels ? `, ${Math.round(state.config.max_pixels / 1e6)} megapixels` : "";
  $("limits").textContent = `up to ${state.config.max_upload_mb} MB per file${pixels}`;
  showModel();
  updateCommand();
  $("model").addEventListener("change", modelChanged);
  for (const id of ["look", "max-side", "device"]) $(id).addEventListener("change", settingsChanged);
  $("saturation").addEventListener("input", settingsChanged);
  $("strength").addEventListener("input", settingsChanged);
  startHints();
  $("style").addEventListener("change", (e) => e.target.files[0] && chooseStyle(e.target.files[0]));
  $("style-clear").addEventListener("click", clearStyle);
  $("files").addEventListener("change", (e) => { addFiles(e.target.files); e.target.value = ""; });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); addFiles(e.dataTransfer.files); });
  $("slider").addEventListener("input", (e) => $("compare").style.setProperty("--pos", `${e.target.value}%`));
  $("copy").addEventListener("click", () => navigator.clipboard && navigator.clipboard.writeText($("command").textContent));
  $("zip").addEventListener("click", downloadZip);
  setStatus("ready: add photos");
}

start();
