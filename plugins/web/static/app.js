// colorfuse serve: the page. Plain JS, no build step; every call goes to this server only.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { config: null, items: [], selected: null, style: null, done: 0, total: 0 };

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

function settings() {
  const look = $("look").value;
  const side = $("max-side").value;
  return {
    model: $("model").value, device: $("device").value, look: look || null,
    saturation: parseFloat($("saturation").value), style: model().global_input ? state.style : null,
    max_side: side === "" ? null : parseInt(side, 10),
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
  $("style-box").disabled = !m.global_input;
  $("style-note").textContent = m.global_input
    ? "Colours every photo as if it were the kind of scene this photo is (its global features)."
    : `${m.name} has no global input, so it cannot take a style image; choose a model with one.`;
}

async function chooseStyle(file) {
  setStatus(`reading style image ${file.name}…`);
  try {
    const upload = await api(`/api/files?style=1&name=${encodeURIComponent(file.name)}`, { method: "PUT", body: file });
    if (state.style) api(`/api/files/${state.style}`, { method: "DELETE" }).catch(() => {});
    state.style = upload.id;
    $("style-clear").hidden = false;
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
  settingsChanged();
}

let pending = null;
function settingsChanged() {
  $("saturation-value").textContent = parseFloat($("saturation").value).toFixed(2);
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
  Object.assign(item, { id: sent.id, kind: sent.kind, notes: sent.notes, file: null });
  setTileState(item, "colorizing…");
  await render(item, !state.selected);
}

async function render(item, show = item === state.selected) {
  const asked = JSON.stringify(settings());
  const result = await postJSON(`/api/files/${item.id}/render`, settings()).catch((error) => {
    setTileState(item, error.message, true);
    if (item === state.selected) setStatus(error.message, true);
    throw error;
  });
  const current = asked === JSON.stringify(settings()); // else the settings moved on while it was made
  item.result = current ? result : null; // a stale result is made again when its photo is selected
  setTileState(item, [`done in ${result.seconds.toFixed(1)} s`, ...(item.notes || [])].join("; "));
  if (item.kind === "photo") item.tile.querySelector("img").src = result.url;
  if (current) $("command").textContent = result.command;
  if (show && current) select(item);
}

async function select(item) {
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
}

async function remove(item) {
  if (item.id) await api(`/api/files/${item.id}`, { method: "DELETE" }).catch(() => {});
  item.tile.remove();
  state.items = state.items.filter((other) => other !== item);
  if (state.selected === item) {
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
  $("model").addEventListener("change", () => { showModel(); settingsChanged(); });
  for (const id of ["look", "max-side", "device"]) $(id).addEventListener("change", settingsChanged);
  $("saturation").addEventListener("input", settingsChanged);
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
