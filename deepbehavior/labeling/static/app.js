// deepbehavior labelling page: one canvas, plain JavaScript, no build step.
// Every change is sent to the server at once (PUT /api/labels/<image>) with the revision it was
// based on; the server refuses stale saves (409) and the page then shows what is on disk.
"use strict";

const PALETTE = ["#ff5c5c", "#4fc3f7", "#9ccc65", "#ffca28", "#ba68c8", "#ff8a65", "#4db6ac",
                 "#f06292", "#aed581", "#7986cb"];
const KP_KEYS = "qwertyuiopghjlzxcv";
const HANDLE = 7; // screen pixels around a corner or keypoint that count as hitting it

const S = {
  project: null, index: 0, label: null, suggestions: [], mode: "box",
  cls: 0, kp: 0, selected: -1, selectedKp: -1,
  scale: 1, ox: 0, oy: 0, image: null,
  undo: [], redo: [], drag: null, spaceDown: false,
  saving: false, queued: false, pendingSaves: 0, loadToken: 0,
};

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const ctx = canvas.getContext("2d");

// ------------------------------------------------------------------ server
async function api(method, path, body) {
  const res = await fetch(path, {method, headers: {"Content-Type": "application/json"},
                                 body: body === undefined ? undefined : JSON.stringify(body)});
  let data = null;
  try { data = await res.json(); } catch (e) { data = {error: res.statusText}; }
  return {status: res.status, data};
}

function imageName() { return S.project.images[S.index].name; }

function message(text) { $("message").textContent = text || ""; }

function setSaveState(text, kind) {
  const el = $("save-state");
  el.textContent = text;
  el.className = kind || "";
}

// Saves are sent one at a time, in order; changes made while one is in flight go in the next.
function save(status) {
  if (status) S.label.status = status;
  else if (S.label.status !== "skipped") S.label.status = "labelled";
  S.queued = true;
  S.pendingSaves += 1;
  setSaveState("saving…", "busy");
  if (!S.saving) flush();
}

async function flush() {
  S.saving = true;
  while (S.queued) {
    S.queued = false;
    const name = S.label.image;
    const sent = S.label;
    const status = sent.status === "unlabelled" ? "labelled" : sent.status;
    const body = {revision: sent.revision, status, instances: cleanInstances(sent.instances)};
    let res;
    try {
      res = await api("PUT", "/api/labels/" + encodeURIComponent(name), body);
    } catch (e) {
      res = {status: 0, data: {error: String(e)}};
    }
    if (res.status === 200) {
      if (S.label === sent) { S.label.revision = res.data.revision; S.label.status = res.data.status; }
      setStatus(name, res.data.status);
    } else if (res.status === 409) {
      message("This image was changed in another tab or by someone else: showing the saved version.");
      if (S.label === sent) {
        S.label = res.data.current;
        S.queued = false;
        draw();
        renderLists();
      }
      setStatus(name, res.data.current.status);
    } else {
      setSaveState("not saved: " + (res.data && res.data.error), "error");
      message("Could not save: " + (res.data && res.data.error));
    }
  }
  S.saving = false;
  S.pendingSaves = 0;
  if ($("save-state").className !== "error") setSaveState("saved", "");
}

function cleanInstances(list) {
  return list.map((inst) => ({class: inst.class, box: inst.box ? inst.box.slice() : null,
                              keypoints: inst.keypoints ? inst.keypoints.map((p) => (p ? p.slice() : null)) : null}))
             .filter((inst) => inst.box || (inst.keypoints && inst.keypoints.some((p) => p)));
}

function setStatus(name, status) {
  const item = S.project.images.find((im) => im.name === name);
  if (item) item.status = status;
  renderProgress();
}

function renderProgress() {
  const images = S.project.images;
  const labelled = images.filter((im) => im.status === "labelled").length;
  const skipped = images.filter((im) => im.status === "skipped").length;
  $("progress").textContent = `${labelled} / ${images.length} labelled` + (skipped ? `, ${skipped} skipped` : "");
}

// ------------------------------------------------------------------ loading
async function loadProject() {
  const res = await api("GET", "/api/project");
  S.project = res.data;
  $("title").textContent = S.project.name;
  $("kp-panel").style.display = S.project.keypoints.length ? "" : "none";
  $("mode-kp").style.display = S.project.keypoints.length ? "" : "none";
  $("suggest").style.display = S.project.suggestions ? "" : "none";
  $("accept").style.display = S.project.suggestions ? "" : "none";
  const wanted = new URLSearchParams(location.search).get("image");
  const at = S.project.images.findIndex((im) => im.name === wanted);
  S.index = at >= 0 ? at : Math.max(0, S.project.images.findIndex((im) => im.status === "unlabelled"));
  renderProgress();
  if (!S.project.images.length) { message("The project has no images yet (deepbehavior frames …)."); return; }
  await loadImage(S.index);
  const problems = S.project.problems || [];
  if (problems.length) message(`${problems.length} label file(s) could not be read: ${problems[0]}`);
}

async function loadImage(index) {
  S.index = (index + S.project.images.length) % S.project.images.length;
  const token = ++S.loadToken;
  const name = imageName();
  S.undo = []; S.redo = []; S.selected = -1; S.selectedKp = -1; S.suggestions = [];
  const [res, image] = await Promise.all([
    api("GET", "/api/labels/" + encodeURIComponent(name)),
    new Promise((resolve, reject) => {
      const im = new Image();
      im.onload = () => resolve(im);
      im.onerror = reject;
      im.src = "/frames/" + encodeURIComponent(name);
    }),
  ]);
  if (token !== S.loadToken) return;
  // a damaged label file: shown empty, with the server's one-line reason (saving is refused until fixed)
  S.label = res.status === 200 ? res.data : {image: name, revision: 0, status: "unlabelled", instances: []};
  S.image = image;
  $("image-name").textContent = `${name} (${S.index + 1}/${S.project.images.length})`;
  history.replaceState(null, "", "?image=" + encodeURIComponent(name));
  fit();
  renderLists();
  message(res.status === 200 ? "" : res.data.error);
  if (S.project.suggestions && S.label.status === "unlabelled") fetchSuggestions();
  document.body.dataset.loaded = name;
}

async function fetchSuggestions() {
  const name = imageName();
  message("asking the model…");
  const res = await api("GET", "/api/suggest/" + encodeURIComponent(name));
  if (name !== imageName()) return;
  if (res.status !== 200) { message("No suggestions: " + res.data.error); return; }
  S.suggestions = res.data.instances;
  message(S.suggestions.length ? `${S.suggestions.length} suggestions: a accepts, then correct them`
                               : "the model found nothing here");
  draw();
}

function acceptSuggestions() {
  if (!S.suggestions.length) return;
  commit(() => { S.label.instances.push(...cleanInstances(S.suggestions)); });
  S.suggestions = [];
  message("");
  draw();
}

// ------------------------------------------------------------------ edits
function snapshot() { return JSON.stringify(S.label.instances); }

// Apply an edit: remember the state before it for undo, then save.
function commit(edit, before) {
  const previous = before === undefined ? snapshot() : before;
  edit();
  S.label.instances = cleanInstances(S.label.instances);
  if (snapshot() === previous) { draw(); return; }
  S.undo.push(previous);
  S.redo = [];
  save();
  renderLists();
  draw();
}

function undo() {
  if (!S.undo.length) return;
  S.redo.push(snapshot());
  S.label.instances = JSON.parse(S.undo.pop());
  S.selected = -1; S.selectedKp = -1;
  save(); renderLists(); draw();
}

function redo() {
  if (!S.redo.length) return;
  S.undo.push(snapshot());
  S.label.instances = JSON.parse(S.redo.pop());
  S.selected = -1; S.selectedKp = -1;
  save(); renderLists(); draw();
}

function deleteSelection() {
  if (S.selected < 0) return;
  commit(() => {
    const inst = S.label.instances[S.selected];
    if (S.selectedKp >= 0 && inst.keypoints) {
      inst.keypoints[S.selectedKp] = null;
    } else {
      S.label.instances.splice(S.selected, 1);
      S.selected = -1;
    }
    S.selectedKp = -1;
  });
}

function setClass(c) {
  if (c >= S.project.classes.length) return;
  S.cls = c;
  if (S.selected >= 0) commit(() => { S.label.instances[S.selected].class = c; });
  renderLists();
}

function setKeypoint(k) {
  if (k >= S.project.keypoints.length) return;
  S.kp = k;
  setMode("kp");
  renderLists();
}

function setMode(mode) {
  S.mode = mode;
  $("mode-box").classList.toggle("active", mode === "box");
  $("mode-kp").classList.toggle("active", mode === "kp");
}

function nextUnplaced(inst, from) {
  const n = S.project.keypoints.length;
  for (let i = 1; i <= n; i++) {
    const k = (from + i) % n;
    if (!inst.keypoints || !inst.keypoints[k]) return k;
  }
  return from;
}

// ------------------------------------------------------------------ geometry
function toImage(ev) {
  const r = canvas.getBoundingClientRect();
  return [(ev.clientX - r.left - S.ox) / S.scale, (ev.clientY - r.top - S.oy) / S.scale];
}

function toScreen(x, y) { return [x * S.scale + S.ox, y * S.scale + S.oy]; }

function fit() {
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (!S.image) return;
  S.scale = Math.min(w / S.image.width, h / S.image.height) * 0.96;
  S.ox = (w - S.image.width * S.scale) / 2;
  S.oy = (h - S.image.height * S.scale) / 2;
  draw();
}

function hit(ev) {
  // What is under the pointer: a keypoint, a box corner, a box inside; selected instance first.
  const [sx, sy] = [ev.clientX - canvas.getBoundingClientRect().left, ev.clientY - canvas.getBoundingClientRect().top];
  const list = S.label.instances;
  const order = [...list.keys()].sort((a, b) => (b === S.selected) - (a === S.selected));
  for (const i of order) {
    const kps = list[i].keypoints || [];
    for (let k = 0; k < kps.length; k++) {
      if (!kps[k]) continue;
      const [px, py] = toScreen(kps[k][0], kps[k][1]);
      if (Math.hypot(px - sx, py - sy) <= HANDLE) return {i, kind: "kp", k};
    }
  }
  for (const i of order) {
    const b = list[i].box;
    if (!b) continue;
    const [x1, y1] = toScreen(b[0], b[1]);
    const [x2, y2] = toScreen(b[2], b[3]);
    const corners = [[x1, y1, "tl"], [x2, y1, "tr"], [x1, y2, "bl"], [x2, y2, "br"]];
    for (const [cx, cy, c] of corners) {
      if (Math.abs(cx - sx) <= HANDLE && Math.abs(cy - sy) <= HANDLE) return {i, kind: "corner", corner: c};
    }
  }
  for (const i of order) {
    const b = list[i].box;
    if (!b) continue;
    const [x1, y1] = toScreen(b[0], b[1]);
    const [x2, y2] = toScreen(b[2], b[3]);
    if (sx >= x1 && sx <= x2 && sy >= y1 && sy <= y2) return {i, kind: "inside"};
  }
  return null;
}

// ------------------------------------------------------------------ pointer
canvas.addEventListener("contextmenu", (ev) => ev.preventDefault());

canvas.addEventListener("mousedown", (ev) => {
  if (!S.label) return;
  const [x, y] = toImage(ev);
  if (ev.button === 1 || ev.button === 2 || S.spaceDown) {
    S.drag = {kind: "pan", sx: ev.clientX, sy: ev.clientY, ox: S.ox, oy: S.oy};
    return;
  }
  if (ev.button !== 0) return;
  const h = hit(ev);
  const before = snapshot();
  if (h && h.kind === "kp") {
    S.selected = h.i; S.selectedKp = h.k; S.kp = h.k;
    S.drag = {kind: "kp", i: h.i, k: h.k, before, moved: false};
  } else if (S.mode === "kp" && S.project.keypoints.length) {
    let i = S.selected;
    if (i < 0) {
      S.label.instances.push({class: S.cls, box: null, keypoints: S.project.keypoints.map(() => null)});
      i = S.label.instances.length - 1;
    }
    const inst = S.label.instances[i];
    if (!inst.keypoints) inst.keypoints = S.project.keypoints.map(() => null);
    const k = S.kp;
    S.selected = i;
    S.selectedKp = -1;
    commit(() => { inst.keypoints[k] = [x, y]; }, before);
    S.selected = i;  // commit copies instances: keep the index, not the object
    S.kp = nextUnplaced(S.label.instances[i], k);
  } else if (h && h.kind === "corner") {
    S.selected = h.i; S.selectedKp = -1;
    S.drag = {kind: "corner", i: h.i, corner: h.corner, before, moved: false};
  } else if (h && h.kind === "inside") {
    S.selected = h.i; S.selectedKp = -1;
    S.cls = S.label.instances[h.i].class;
    S.drag = {kind: "move", i: h.i, x, y, box: S.label.instances[h.i].box.slice(), before, moved: false};
  } else {
    S.selected = -1; S.selectedKp = -1;
    S.drag = {kind: "new", x0: x, y0: y, x, y};
  }
  renderLists();
  draw();
});

window.addEventListener("mousemove", (ev) => {
  const d = S.drag;
  if (!d) return;
  const [x, y] = toImage(ev);
  const clamp = (v, hi) => Math.max(0, Math.min(hi, v));
  const W = S.image.width, H = S.image.height;
  if (d.kind === "pan") {
    S.ox = d.ox + ev.clientX - d.sx; S.oy = d.oy + ev.clientY - d.sy;
  } else if (d.kind === "new") {
    d.x = clamp(x, W); d.y = clamp(y, H);
  } else if (d.kind === "kp") {
    S.label.instances[d.i].keypoints[d.k] = [clamp(x, W), clamp(y, H)]; d.moved = true;
  } else if (d.kind === "corner") {
    const b = S.label.instances[d.i].box;
    if (d.corner[0] === "t") b[1] = clamp(y, H); else b[3] = clamp(y, H);
    if (d.corner[1] === "l") b[0] = clamp(x, W); else b[2] = clamp(x, W);
    d.moved = true;
  } else if (d.kind === "move") {
    const dx = Math.max(-d.box[0], Math.min(W - d.box[2], x - d.x));
    const dy = Math.max(-d.box[1], Math.min(H - d.box[3], y - d.y));
    S.label.instances[d.i].box = [d.box[0] + dx, d.box[1] + dy, d.box[2] + dx, d.box[3] + dy];
    d.moved = true;
  }
  draw();
});

window.addEventListener("mouseup", () => {
  const d = S.drag;
  S.drag = null;
  if (!d) return;
  if (d.kind === "new") {
    const box = [Math.min(d.x0, d.x), Math.min(d.y0, d.y), Math.max(d.x0, d.x), Math.max(d.y0, d.y)];
    if ((box[2] - box[0]) * S.scale >= 4 && (box[3] - box[1]) * S.scale >= 4) {
      commit(() => {
        S.label.instances.push({class: S.cls, box, keypoints: null});
        S.selected = S.label.instances.length - 1;
      });
    }
  } else if (d.kind !== "pan" && d.moved) {
    const inst = S.label.instances[d.i];
    if (inst.box) inst.box = [Math.min(inst.box[0], inst.box[2]), Math.min(inst.box[1], inst.box[3]),
                              Math.max(inst.box[0], inst.box[2]), Math.max(inst.box[1], inst.box[3])];
    commit(() => {}, d.before);
  }
  draw();
});

canvas.addEventListener("wheel", (ev) => {
  ev.preventDefault();
  const r = canvas.getBoundingClientRect();
  const sx = ev.clientX - r.left, sy = ev.clientY - r.top;
  const factor = Math.exp(-ev.deltaY * 0.0015);
  const scale = Math.max(0.05, Math.min(40, S.scale * factor));
  S.ox = sx - (sx - S.ox) * (scale / S.scale);
  S.oy = sy - (sy - S.oy) * (scale / S.scale);
  S.scale = scale;
  draw();
}, {passive: false});

// ------------------------------------------------------------------ keys
window.addEventListener("keydown", (ev) => {
  if (ev.target.tagName === "INPUT") return;
  const key = ev.key;
  if ((ev.ctrlKey || ev.metaKey) && key.toLowerCase() === "z") { ev.preventDefault(); ev.shiftKey ? redo() : undo(); return; }
  if ((ev.ctrlKey || ev.metaKey) && key.toLowerCase() === "y") { ev.preventDefault(); redo(); return; }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (key === " ") { S.spaceDown = true; ev.preventDefault(); return; }
  if (key === "ArrowRight" || key === ".") return go(1);
  if (key === "ArrowLeft" || key === ",") return go(-1);
  if (key === "Enter") return done();
  if (key === "s") return skip();
  if (key === "u") return nextUnlabelled();
  if (key === "b") return setMode("box");
  if (key === "k" && S.project.keypoints.length) return setMode("kp");
  if (key === "f") return fit();
  if (key === "a") return acceptSuggestions();
  if (key === "m" && S.project.suggestions) return fetchSuggestions();
  if (key === "n") { S.selected = -1; S.selectedKp = -1; S.kp = 0; setMode("kp"); renderLists(); draw(); return; }
  if (key === "Escape") { S.selected = -1; S.selectedKp = -1; renderLists(); draw(); return; }
  if (key === "Delete" || key === "Backspace") { ev.preventDefault(); return deleteSelection(); }
  if (/^[1-9]$/.test(key)) return setClass(Number(key) - 1);
  const k = KP_KEYS.indexOf(key);
  if (k >= 0) return setKeypoint(k);
});

window.addEventListener("keyup", (ev) => { if (ev.key === " ") S.spaceDown = false; });
window.addEventListener("resize", () => { resizeCanvas(); fit(); });

function go(step) { if (S.project.images.length) loadImage(S.index + step); }

function done() {
  if (S.label.status !== "labelled") save("labelled");
  go(1);
}

function skip() {
  save("skipped");
  go(1);
}

function nextUnlabelled() {
  const n = S.project.images.length;
  for (let i = 1; i <= n; i++) {
    const j = (S.index + i) % n;
    if (S.project.images[j].status === "unlabelled") return loadImage(j);
  }
  message("Every image is labelled or skipped.");
}

// ------------------------------------------------------------------ drawing
function resizeCanvas() {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio;
  canvas.height = canvas.clientHeight * ratio;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
}

function drawInstance(inst, i, suggested) {
  const colour = PALETTE[inst.class % PALETTE.length];
  const selected = !suggested && i === S.selected;
  ctx.setLineDash(suggested ? [6, 4] : []);
  if (inst.box) {
    const [x1, y1] = toScreen(inst.box[0], inst.box[1]);
    const [x2, y2] = toScreen(inst.box[2], inst.box[3]);
    ctx.strokeStyle = suggested ? "#ffa726" : colour;
    ctx.lineWidth = selected ? 3 : 2;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.font = "12px sans-serif";
    ctx.fillText(S.project.classes[inst.class] + (suggested ? " ?" : ""), x1 + 2, y1 - 4);
    if (selected) {
      for (const [cx, cy] of [[x1, y1], [x2, y1], [x1, y2], [x2, y2]]) ctx.fillRect(cx - 4, cy - 4, 8, 8);
    }
  }
  const kps = inst.keypoints || [];
  ctx.lineWidth = 2;
  ctx.strokeStyle = suggested ? "#ffa726" : selected ? "#ffffff" : "#cfd8dc";
  for (const [a, b] of S.project.skeleton) {
    if (!kps[a] || !kps[b]) continue;
    const [ax, ay] = toScreen(kps[a][0], kps[a][1]);
    const [bx, by] = toScreen(kps[b][0], kps[b][1]);
    ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
  }
  ctx.setLineDash([]);
  kps.forEach((p, k) => {
    if (!p) return;
    const [px, py] = toScreen(p[0], p[1]);
    ctx.beginPath();
    ctx.arc(px, py, selected && k === S.selectedKp ? 6 : 4, 0, 2 * Math.PI);
    ctx.fillStyle = suggested ? "#ffa726" : PALETTE[k % PALETTE.length];
    ctx.fill();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1;
    ctx.stroke();
    if (selected) { ctx.fillStyle = "#fff"; ctx.fillText(S.project.keypoints[k], px + 6, py - 6); }
  });
}

function draw() {
  const w = canvas.clientWidth, h = canvas.clientHeight;
  ctx.clearRect(0, 0, w, h);
  if (!S.image || !S.label) return;
  ctx.imageSmoothingEnabled = S.scale < 2;
  ctx.drawImage(S.image, S.ox, S.oy, S.image.width * S.scale, S.image.height * S.scale);
  S.suggestions.forEach((inst, i) => drawInstance(inst, i, true));
  S.label.instances.forEach((inst, i) => drawInstance(inst, i, false));
  const d = S.drag;
  if (d && d.kind === "new") {
    const [x1, y1] = toScreen(d.x0, d.y0);
    const [x2, y2] = toScreen(d.x, d.y);
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = PALETTE[S.cls % PALETTE.length];
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.setLineDash([]);
  }
}

function renderLists() {
  if (!S.project) return;
  const classes = $("classes");
  classes.innerHTML = "";
  S.project.classes.forEach((name, c) => {
    const li = document.createElement("li");
    li.innerHTML = `<span class="swatch" style="background:${PALETTE[c % PALETTE.length]}"></span>`;
    li.append(name);
    li.className = c === S.cls ? "active" : "";
    li.onclick = () => setClass(c);
    classes.append(li);
  });
  const kps = $("keypoints");
  kps.innerHTML = "";
  const inst = S.selected >= 0 && S.label ? S.label.instances[S.selected] : null;
  S.project.keypoints.forEach((name, k) => {
    const li = document.createElement("li");
    li.innerHTML = `<span class="swatch" style="background:${PALETTE[k % PALETTE.length]}"></span>`;
    li.append(`${name} (${KP_KEYS[k] || ""})`);
    li.className = (k === S.kp ? "active " : "") + (inst && inst.keypoints && inst.keypoints[k] ? "placed" : "");
    li.onclick = () => setKeypoint(k);
    kps.append(li);
  });
  const list = $("instances");
  list.innerHTML = "";
  (S.label ? S.label.instances : []).forEach((it, i) => {
    const li = document.createElement("li");
    const placed = it.keypoints ? it.keypoints.filter((p) => p).length : 0;
    li.textContent = S.project.classes[it.class] + (it.box ? " □" : "") +
                     (S.project.keypoints.length ? ` ${placed}/${S.project.keypoints.length}` : "");
    li.className = i === S.selected ? "active" : "";
    li.onclick = () => { S.selected = i; S.selectedKp = -1; renderLists(); draw(); };
    list.append(li);
  });
  $("undo").disabled = !S.undo.length;
  $("redo").disabled = !S.redo.length;
}

// ------------------------------------------------------------------ wiring
$("prev").onclick = () => go(-1);
$("next").onclick = () => go(1);
$("next-unlabelled").onclick = nextUnlabelled;
$("done").onclick = done;
$("skip").onclick = skip;
$("mode-box").onclick = () => setMode("box");
$("mode-kp").onclick = () => setMode("kp");
$("undo").onclick = undo;
$("redo").onclick = redo;
$("fit").onclick = fit;
$("suggest").onclick = fetchSuggestions;
$("accept").onclick = acceptSuggestions;
for (const b of document.querySelectorAll("header button")) b.addEventListener("mouseup", () => b.blur());

// For tests and scripts: image pixels to page coordinates, and whether saves are pending.
window.labelApp = {
  state: S,
  toPage(x, y) {
    const r = canvas.getBoundingClientRect();
    const [sx, sy] = toScreen(x, y);
    return [r.left + sx, r.top + sy];
  },
  idle() { return !S.saving && !S.queued; },
};

resizeCanvas();
setMode("box");
loadProject().catch((e) => message("Could not load the project: " + e));
