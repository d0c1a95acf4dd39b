// colorfuse serve: colour hints on the selected photo. Click to place one, drag to move it, click it
// to change its colour or remove it; undo and clear all. Uses app.js's $, api, postJSON, settings,
// model, state and render (loaded after this file; called only once the page runs).
"use strict";

const DRAG_PX = 4; // a press that moves less than this is a click
const picking = { item: null, hint: null, pending: false };

function hintMode() {
  return $("mode-hints").checked && model().takes_hints;
}

function showMode() {
  const photo = state.selected && state.selected.kind === "photo";
  const takes = model().takes_hints;
  $("mode-hints-label").hidden = !takes || !photo;
  if (!takes && $("mode-hints").checked) $("mode-compare").checked = true;
  $("hint-note").textContent = !photo ? "" : takes
    ? (hintMode() ? "click the photo to say what colour it was; drag a point to move it, click it to change it" : "")
    : `Colour hints need a hint-taking model; ${model().name} takes none.`;
  $("compare").classList.toggle("hinting", hintMode());
  $("hint-tools").hidden = !hintMode();
  if (!hintMode()) closePicker();
  drawHints();
}

function toPixel(event) {
  const item = state.selected;
  const rect = $("hint-layer").getBoundingClientRect();
  const clamp = (value, size) => Math.min(size - 1, Math.max(0, Math.floor(value * size)));
  return { x: clamp((event.clientX - rect.left) / rect.width, item.width),
           y: clamp((event.clientY - rect.top) / rect.height, item.height) };
}

// each point's marker, kept across redraws: a press on one survives a render landing meanwhile
const markers = new Map();

function drawHints() {
  const item = state.selected;
  const layer = $("hint-layer");
  const shown = item && item.kind === "photo" && hintMode() ? [...item.hints] : [];
  if (picking.pending && picking.item === item) shown.push(picking.hint);
  for (const [hint, dot] of markers) {
    if (!shown.includes(hint)) { dot.remove(); markers.delete(hint); }
  }
  shown.forEach((hint, index) => {
    let dot = markers.get(hint);
    if (!dot) {
      dot = document.createElement("div");
      dot.addEventListener("pointerdown", (event) => pressHint(event, item, hint, dot));
      markers.set(hint, dot);
    }
    dot.className = "hint" + (hint === picking.hint && picking.pending ? " pending" : "") +
                    (hint === picking.hint ? " open" : "");
    if (!dot.dataset.dragging) { // a dragged marker stays under the pointer
      dot.style.left = `${((hint.x + 0.5) / item.width) * 100}%`;
      dot.style.top = `${((hint.y + 0.5) / item.height) * 100}%`;
    }
    dot.style.background = hint.color || "";
    dot.title = `(${hint.x}, ${hint.y}) ${hint.color || "choose a colour"}`;
    if (layer.children[index] !== dot) layer.insertBefore(dot, layer.children[index] || null);
  });
  const hinted = state.items.some((other) => other.hints && other.hints.length);
  $("hints-download").hidden = !hinted || !model().takes_hints;
  if (item && item.hints) {
    $("undo").disabled = !item.undo.length;
    $("clear-hints").disabled = !item.hints.length;
  }
}

function changeHints(item, hints) {
  item.undo.push(item.hints);
  item.hints = hints;
  hintsChanged(item);
}

function hintsChanged(item) {
  item.result = null;
  item.hintsUnsaved = true; // until their render lands: the server's hints file lags the page
  drawHints();
  showBusy();
  clearTimeout(item.hintTimer);
  item.hintTimer = setTimeout(() => renderHints(item), 60);
}

// one render at a time per photo; edits made meanwhile are rendered together when it ends
async function renderHints(item) {
  if (item.rendering) { item.dirty = true; return; }
  item.rendering = true;
  const sent = item.hints;
  await render(item).catch(() => {}); // a failure is shown on the tile and in the status line
  item.rendering = false;
  item.hintsUnsaved = item.hints !== sent; // edited meanwhile: a render of them is due
  showBusy();
  if (item.dirty) { item.dirty = false; renderHints(item); }
}

// the hints file once every edit has been rendered (a download straight after an edit got the one before)
async function downloadHints(event) {
  event.preventDefault();
  const link = $("hints-download");
  while (state.items.some((item) => item.hintsUnsaved)) await new Promise((done) => setTimeout(done, 50));
  const blob = new Blob([JSON.stringify(await api(link.getAttribute("href")), null, 1)], { type: "application/json" });
  const save = document.createElement("a");
  save.href = URL.createObjectURL(blob);
  save.download = link.getAttribute("download");
  save.click();
  setTimeout(() => URL.revokeObjectURL(save.href), 10000);
}

function pressHint(event, item, hint, dot) {
  event.stopPropagation();
  event.preventDefault();
  const start = { x: event.clientX, y: event.clientY };
  let moved = false;
  dot.setPointerCapture(event.pointerId);
  const move = (e) => {
    moved = moved || Math.hypot(e.clientX - start.x, e.clientY - start.y) >= DRAG_PX;
    if (!moved) return;
    dot.dataset.dragging = "1";
    const rect = $("hint-layer").getBoundingClientRect();
    dot.style.left = `${Math.min(100, Math.max(0, ((e.clientX - rect.left) / rect.width) * 100))}%`;
    dot.style.top = `${Math.min(100, Math.max(0, ((e.clientY - rect.top) / rect.height) * 100))}%`;
  };
  const up = (e) => {
    dot.removeEventListener("pointermove", move);
    dot.removeEventListener("pointerup", up);
    delete dot.dataset.dragging;
    if (!moved) return openPicker(item, hint, picking.pending && hint === picking.hint);
    const point = toPixel(e);
    if (picking.pending && hint === picking.hint) {
      Object.assign(hint, point);
      return openPicker(item, hint, true);
    }
    changeHints(item, item.hints.map((other) => (other === hint ? { ...hint, ...point } : other)));
    if (picking.hint === hint) closePicker();
  };
  dot.addEventListener("pointermove", move);
  dot.addEventListener("pointerup", up);
}

function pressLayer(event) {
  if (!hintMode() || event.button > 0) return;
  event.preventDefault();
  openPicker(state.selected, { ...toPixel(event), color: null }, true);
}

async function openPicker(item, hint, pending) {
  Object.assign(picking, { item, hint, pending });
  $("picker").hidden = false;
  $("hint-remove").textContent = pending ? "Cancel" : "Remove";
  $("picker-where").textContent = `colour at (${hint.x}, ${hint.y}):`;
  if (hint.color) $("free-color").value = hint.color;
  drawHints();
  const box = $("suggestions");
  box.textContent = model().suggests ? "suggestions…" : "";
  if (!model().suggests) return;
  try {
    const found = await postJSON(`/api/files/${item.id}/suggest`, { x: hint.x, y: hint.y, settings: settings() });
    if (picking.hint !== hint) return; // another point was chosen meanwhile
    box.replaceChildren(...found.suggestions.map((s) => {
      const swatch = document.createElement("button");
      swatch.type = "button";
      swatch.className = "swatch";
      swatch.style.background = s.color;
      swatch.dataset.color = s.color;
      swatch.title = `${s.color}: ${(s.probability * 100).toFixed(0)}% likely here`;
      swatch.addEventListener("click", () => chooseColor(s.color));
      return swatch;
    }));
  } catch (error) {
    box.textContent = error.message;
  }
}

function chooseColor(color) {
  const { item, hint, pending } = picking;
  if (!item) return;
  const chosen = { x: hint.x, y: hint.y, color };
  changeHints(item, pending ? [...item.hints, chosen] : item.hints.map((other) => (other === hint ? chosen : other)));
  Object.assign(picking, { hint: chosen, pending: false });
  $("hint-remove").textContent = "Remove";
  drawHints();
}

function removePicked() {
  const { item, hint, pending } = picking;
  if (item && !pending) changeHints(item, item.hints.filter((other) => other !== hint));
  closePicker();
}

function closePicker() {
  Object.assign(picking, { item: null, hint: null, pending: false });
  $("picker").hidden = true;
  $("suggestions").replaceChildren();
}

function undoHints() {
  const item = state.selected;
  if (!item || !item.undo.length) return;
  item.hints = item.undo.pop();
  closePicker();
  hintsChanged(item);
}

function clearHints() {
  const item = state.selected;
  if (!item || !item.hints.length) return;
  closePicker();
  changeHints(item, []);
}

function startHints() {
  for (const id of ["mode-compare", "mode-hints"]) $(id).addEventListener("change", showMode);
  $("hint-layer").addEventListener("pointerdown", pressLayer);
  $("free-color").addEventListener("change", (event) => chooseColor(event.target.value));
  $("hint-remove").addEventListener("click", removePicked);
  $("picker-close").addEventListener("click", closePicker);
  $("undo").addEventListener("click", undoHints);
  $("clear-hints").addEventListener("click", clearHints);
  $("hints-download").addEventListener("click", downloadHints);
}
