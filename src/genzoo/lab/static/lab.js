// genzoo lab — the browser side: one Server-Sent Events stream in, JSON commands out.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const LAYERS = ["heat", "grid", "real", "fake", "arrows"];  // drawing order, bottom to top
const HISTORY = 300;        // loss values kept per term
const LOG_STEPS = 1000;     // positions of a logarithmic slider
const PEN_SPACING = 6;      // CSS px between points added while dragging
const ERASE_RADIUS = 12;    // CSS px
const COLORS = ["#d6336c", "#1c7ed6", "#2b8a3e", "#f08c00", "#7048e8", "#0c8599", "#495057"];

// session: the last `session` event; snap: the latest `snapshot` (drawn on the next frame); metrics: the
// last non-null ones; hidden: layers switched off; drawing: draw mode; drawn: the user's points (world
// coordinates); pen: the stroke in progress.
const state = { session: null, snap: null, playing: false, metrics: null, hidden: new Set(), drawing: false,
  drawn: [], pen: null, offline: false, lastSnapMessage: null, controlSig: null };
const lossHistory = new Map();   // loss term -> its last HISTORY values
let lastStep = -1;
let framePending = false;

// ---------- helpers ----------
function el(tag, props, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function fmt(v) {
  if (typeof v !== "number") return v == null ? "–" : String(v);
  if (!Number.isFinite(v) || (Number.isInteger(v) && Math.abs(v) < 1e6)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(3)));
}

let messageTimer = 0;
function showMessage(text, kind = "info", ms = 4000) {   // ms = 0: until replaced
  const m = $("message");
  Object.assign(m, { textContent: text, className: kind, hidden: false });
  clearTimeout(messageTimer);
  if (ms > 0) messageTimer = setTimeout(() => { m.hidden = true; }, ms);
}

function scheduleFrame() {   // draw the latest state once, on the next frame; never queue
  if (framePending) return;
  framePending = true;
  requestAnimationFrame(() => { framePending = false; render(); });
}

// Size a canvas's backing store to its CSS box times devicePixelRatio; the context draws in CSS px.
function fitCanvas(canvas) {
  const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
  if (canvas.width !== w || canvas.height !== h) Object.assign(canvas, { width: w, height: h });
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w: r.width, h: r.height };
}

function stroke(ctx, strokeStyle, lineWidth) {
  Object.assign(ctx, { strokeStyle, lineWidth });
  ctx.stroke();
}

// ---------- commands ----------
async function command(cmd) {
  let body;
  try {
    const r = await fetch("/command?token=" + encodeURIComponent(token), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(cmd),
    });
    try { body = await r.json(); } catch { body = {}; }
    if (!r.ok || body.ok === false) body = { ok: false, error: body.error || `HTTP ${r.status}` };
  } catch (e) {
    body = { ok: false, error: "command failed: " + e.message };
  }
  if (body.ok === false) {
    showMessage(body.error, "error", 6000);
    syncHeader();   // put the selects and inputs back to what the server has
    return body;
  }
  const kept = cmd.action === "seed" || cmd.action === "speed";   // no new `session` event need follow
  if (kept && state.session) state.session[cmd.action] = cmd.value;
  if (body.message) showMessage(body.message, "info", cmd.action === "save" ? 10000 : 4000);
  return body;
}

function togglePlay() {
  state.playing = !state.playing;
  renderPlay();
  command({ action: state.playing ? "play" : "pause" });
}

function renderPlay() {
  const b = $("play");
  b.textContent = state.playing ? "❚❚ pause" : "▶ play";
  toggleButton(b, state.playing);
}

function toggleButton(b, on) {
  b.classList.toggle("on", on);
  b.setAttribute("aria-pressed", String(on));
}

// ---------- the session: header, controls, layers ----------
function fillSelect(select, names, value) {
  const same = [...select.options].map((o) => o.value).join("\n") === names.join("\n");
  if (!same) select.replaceChildren(...names.map((n) => new Option(n, n)));
  select.value = value;
}

function syncHeader() {
  const s = state.session;
  if (!s) return;
  fillSelect($("model"), Object.keys(s.models || {}), s.model);
  fillSelect($("data"), s.datasets || [], s.data);
  $("speed").value = $("speed-out").textContent = s.speed;
  if (document.activeElement !== $("seed")) $("seed").value = s.seed;
}

function onSession(s) {
  const old = state.session;
  state.session = s;
  if (s.real) state.snap = { ...(state.snap || {}), real: s.real, bounds: s.bounds };   // sent once per data
  if (!old || old.model !== s.model || old.data !== s.data) {   // a new run: forget the old curves
    lossHistory.clear();
    lastStep = -1;
    state.metrics = null;
    renderMetrics();
  }
  syncHeader();
  buildControls();
  buildLayers();
  scheduleFrame();
}

function buildControls() {
  const s = state.session, m = (s.models || {})[s.model] || {}, controls = m.controls || [];
  $("model-name").textContent = s.model || "model";
  $("summary").textContent = m.summary || "";
  const sig = s.model + JSON.stringify(controls);
  if (sig === state.controlSig) return;   // unchanged: keep the inputs (and their focus)
  state.controlSig = sig;
  $("controls").replaceChildren(...controls.map(makeControl));
}

async function setControl(c, value) {
  const r = await command({ action: "set", key: c.key, value });
  if (r.ok === false) { state.controlSig = null; buildControls(); }   // back to the last good value
  else c.value = value;
}

// One row per control: a select for a choice, a slider plus an editable readout for a number.
function makeControl(c) {
  const id = "control-" + c.key, name = c.label || c.key;
  const row = el("div", { className: "control" }, el("label", { htmlFor: id, textContent: name }));
  let input;
  if (c.type === "choice") {
    const choices = c.choices || [];
    input = el("select", {}, ...choices.map((ch) => new Option(String(ch), String(ch))));
    input.value = String(c.value);
    input.addEventListener("change", () => setControl(c, choices.find((x) => String(x) === input.value)));
    row.append(input);
  } else if (c.type === "int" || c.type === "float") {
    const isInt = c.type === "int", log = Boolean(c.log) && c.min > 0 && c.max > c.min;
    input = el("input", log ? { type: "range", min: 0, max: LOG_STEPS, step: 1 }
      : { type: "range", min: c.min, max: c.max, step: c.step ?? (isInt ? 1 : "any") });
    const readout = el("input", { type: "number", step: "any", className: "readout", id: id + "-value" });
    readout.setAttribute("aria-label", name + " value");
    const show = (v) => {
      input.value = log ? Math.round((LOG_STEPS * Math.log(v / c.min)) / Math.log(c.max / c.min)) : v;
      readout.value = fmt(v);
    };
    const read = () => {
      let v = log ? c.min * Math.pow(c.max / c.min, Number(input.value) / LOG_STEPS) : Number(input.value);
      v = Math.min(c.max, Math.max(c.min, v));
      return isInt ? Math.round(v) : log ? Number(v.toPrecision(3)) : v;
    };
    show(c.value);
    input.addEventListener("input", () => { readout.value = fmt(read()); });
    input.addEventListener("change", () => setControl(c, read()));
    readout.addEventListener("change", () => {   // typed values go to the server as they are
      const v = Number(readout.value);
      if (readout.value === "" || !Number.isFinite(v)) return show(c.value);
      show(v);
      setControl(c, isInt ? Math.round(v) : v);
    });
    row.append(input, readout);
  } else {   // a type this page does not know: a text box
    row.append((input = el("input", { value: c.value ?? "" })));
    input.addEventListener("change", () => setControl(c, input.value));
  }
  input.id = id;
  return row;
}

const layerNames = () => (state.session && state.session.layers) || LAYERS;

function buildLayers() {
  const box = $("layers"), names = layerNames();
  if (box.dataset.names === names.join(",")) return;
  box.dataset.names = names.join(",");
  box.replaceChildren(...names.map((n) => {
    const cb = el("input", { type: "checkbox", id: "layer-" + n, checked: !state.hidden.has(n) });
    cb.addEventListener("change", () => { state.hidden[cb.checked ? "delete" : "add"](n); scheduleFrame(); });
    return el("label", { className: "layer" }, cb, " " + n);
  }));
}

// ---------- snapshots ----------
function onSnapshot(snap) {
  state.snap = { ...state.snap, ...snap };   // a bare error snapshot keeps the last picture
  state.playing = Boolean(snap.playing);
  if (typeof snap.step === "number" && snap.step !== lastStep) {   // one point per training step seen
    if (snap.step < lastStep) lossHistory.clear();
    lastStep = snap.step;
    for (const [k, v] of Object.entries(snap.losses || {})) {
      if (!lossHistory.has(k)) lossHistory.set(k, []);
      const a = lossHistory.get(k);
      a.push(typeof v === "number" ? v : NaN);
      if (a.length > HISTORY) a.shift();
    }
  }
  if (snap.metrics) { state.metrics = snap.metrics; renderMetrics(); }
  if (snap.message && snap.message !== state.lastSnapMessage) showMessage(snap.message, "error", 5000);
  state.lastSnapMessage = snap.message || null;
  scheduleFrame();
}

function render() {
  const snap = state.snap;
  if (snap) {
    const sps = snap.steps_per_second;
    $("stepcount").textContent = String(snap.step ?? 0);
    $("sps").textContent = typeof sps === "number" ? sps.toFixed(0) : "–";
  }
  renderPlay();
  drawPlane();
  drawLosses();
}

function renderMetrics() {
  $("metrics").tBodies[0].replaceChildren(...Object.entries(state.metrics || {}).map(([k, v]) =>
    el("tr", {}, el("th", { textContent: k }), el("td", { textContent: fmt(v) }))));
}

// ---------- the data plane ----------
function bounds() {
  const b = state.snap && state.snap.bounds;
  return Array.isArray(b) && b.length === 4 && b[1] > b[0] && b[3] > b[2] ? b : [-1, 1, -1, 1];
}

function mapping(w, h) {   // world <-> CSS px in a w×h box, y up
  const [x0, x1, y0, y1] = bounds();
  return {
    px: (x, y) => [((x - x0) / (x1 - x0)) * w, (1 - (y - y0) / (y1 - y0)) * h],
    world: (cx, cy) => [x0 + (cx / w) * (x1 - x0), y1 - (cy / h) * (y1 - y0)],
  };
}

const heatCanvas = document.createElement("canvas");

function ramp(v) {   // blue – white – red
  const t = Math.min(1, Math.max(0, v)), white = [255, 255, 255];
  const [a, b, s] = t < 0.5 ? [[59, 76, 192], white, t * 2] : [white, [180, 4, 38], (t - 0.5) * 2];
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * s));
}

function drawHeat(ctx, heat, w, h) {
  const { nx, ny, values } = heat;
  if (!(nx > 0 && ny > 0) || !values || values.length < nx * ny) return;
  if (heatCanvas.width !== nx || heatCanvas.height !== ny) Object.assign(heatCanvas, { width: nx, height: ny });
  const hctx = heatCanvas.getContext("2d"), img = hctx.createImageData(nx, ny);
  for (let j = 0; j < ny; j++) {   // row 0 is ymin: the bottom row of the image
    for (let i = 0; i < nx; i++) {
      const v = values[j * nx + i], o = ((ny - 1 - j) * nx + i) * 4;
      if (typeof v !== "number" || !Number.isFinite(v)) continue;   // left transparent
      img.data.set([...ramp(v), 255], o);
    }
  }
  hctx.putImageData(img, 0, 0);
  Object.assign(ctx, { globalAlpha: 0.6, imageSmoothingEnabled: true });
  ctx.drawImage(heatCanvas, 0, 0, w, h);
  ctx.globalAlpha = 1;
}

function drawDots(ctx, pts, map, r, fill, edge) {
  ctx.beginPath();
  for (const p of pts) {
    const [a, b] = map.px(p[0], p[1]);
    ctx.moveTo(a + r, b);
    ctx.arc(a, b, r, 0, 2 * Math.PI);
  }
  ctx.fillStyle = fill;
  ctx.fill();
  if (edge) stroke(ctx, edge, 1);
}

function drawArrows(ctx, arrows, map) {
  ctx.beginPath();
  for (const [x, y, dx, dy] of arrows) {
    const [ax, ay] = map.px(x, y), [bx, by] = map.px(x + dx, y + dy), len = Math.hypot(bx - ax, by - ay);
    ctx.moveTo(ax, ay);
    ctx.lineTo(bx, by);
    if (len < 1) continue;
    const hl = Math.min(4, len * 0.4), ux = ((bx - ax) / len) * hl, uy = ((by - ay) / len) * hl;
    ctx.moveTo(bx - ux - 0.5 * uy, by - uy + 0.5 * ux);   // the head: two short strokes
    ctx.lineTo(bx, by);
    ctx.lineTo(bx - ux + 0.5 * uy, by - uy - 0.5 * ux);
  }
  stroke(ctx, "rgba(33, 37, 41, 0.8)", 0.8);
}

function drawPlane() {
  const { ctx, w, h } = fitCanvas($("plane")), map = mapping(w, h);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  const snap = state.snap, names = layerNames();
  const on = (n) => snap && snap[n] && names.includes(n) && !state.hidden.has(n);
  $("heat-label").textContent = on("heat") && snap.heat.label ? snap.heat.label : "";
  if (on("heat")) drawHeat(ctx, snap.heat, w, h);
  if (on("grid")) {
    ctx.beginPath();
    for (const line of snap.grid) {
      line.forEach((p, i) => { const [a, b] = map.px(p[0], p[1]); if (i) ctx.lineTo(a, b); else ctx.moveTo(a, b); });
    }
    stroke(ctx, "rgba(110, 110, 110, 0.55)", 0.7);
  }
  if (on("real")) drawDots(ctx, snap.real, map, 1.8, "rgba(47, 158, 68, 0.5)");
  if (on("fake")) drawDots(ctx, snap.fake, map, 1.8, "rgba(112, 72, 232, 0.75)");
  if (on("arrows")) drawArrows(ctx, snap.arrows, map);
  if (state.drawing && state.drawn.length) drawDots(ctx, state.drawn, map, 4.5, "rgba(240, 140, 0, 0.85)", "#5c3b00");
}

// ---------- drawing data ----------
function setDrawing(on) {
  state.drawing = on;
  toggleButton($("draw"), on);
  $("plane").classList.toggle("drawing", on);
  scheduleFrame();
}

function penAt(e) {   // add points along the stroke, or erase near the cursor with shift
  const r = $("plane").getBoundingClientRect(), map = mapping(r.width, r.height), pen = state.pen;
  const cx = e.clientX - r.left, cy = e.clientY - r.top;
  const add = (x, y) => { state.drawn.push(map.world(x, y).map((v) => Number(v.toFixed(4)))); pen.changed = true; };
  if (e.shiftKey) {
    const before = state.drawn.length;
    state.drawn = state.drawn.filter((p) => {
      const [a, b] = map.px(p[0], p[1]);
      return Math.hypot(a - cx, b - cy) > ERASE_RADIUS;
    });
    if (state.drawn.length !== before) pen.changed = true;
    pen.last = null;
  } else if (!pen.last) {
    add(cx, cy);
    pen.last = [cx, cy];
  } else {   // one point every PEN_SPACING px, however fast the mouse moves
    let [lx, ly] = pen.last, d = Math.hypot(cx - lx, cy - ly);
    for (; d >= PEN_SPACING; d -= PEN_SPACING) {
      lx += ((cx - lx) * PEN_SPACING) / d;
      ly += ((cy - ly) * PEN_SPACING) / d;
      add(lx, ly);
    }
    pen.last = [lx, ly];
  }
  scheduleFrame();
}

function wirePlane() {
  const plane = $("plane");
  const penEnd = () => {   // the stroke is over: send the points (the server switches the data to "drawn")
    if (state.pen && state.pen.changed && state.drawn.length) command({ action: "points", points: state.drawn });
    state.pen = null;
  };
  plane.addEventListener("pointerdown", (e) => {
    if (!state.drawing || e.button !== 0) return;
    e.preventDefault();
    try { plane.setPointerCapture(e.pointerId); } catch { /* a synthetic event has no live pointer */ }
    state.pen = { last: null, changed: false };
    penAt(e);
  });
  plane.addEventListener("pointermove", (e) => { if (state.pen) penAt(e); });
  plane.addEventListener("pointerup", penEnd);
  plane.addEventListener("pointercancel", penEnd);
}

// ---------- the loss chart ----------
function drawLosses() {
  const { ctx, w, h } = fitCanvas($("losses")), terms = [...lossHistory.keys()];
  ctx.clearRect(0, 0, w, h);
  renderLegend(terms);
  const all = [...lossHistory.values()].flat().filter(Number.isFinite);
  if (!all.length) return;
  let lo = Math.min(...all), hi = Math.max(...all);
  if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
  const left = 44, top = 6, bottom = h - 6, right = w - 4;
  const y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
  Object.assign(ctx, { font: "11px system-ui, sans-serif", fillStyle: "#868e96", textBaseline: "top" });
  ctx.fillText(fmt(hi), 2, top);
  ctx.textBaseline = "bottom";
  ctx.fillText(fmt(lo), 2, bottom);
  ctx.beginPath();
  ctx.moveTo(left, top); ctx.lineTo(left, bottom); ctx.lineTo(right, bottom);
  if (lo < 0 && hi > 0) { ctx.moveTo(left, y(0)); ctx.lineTo(right, y(0)); }
  stroke(ctx, "#dee2e6", 1);
  terms.forEach((k, t) => {   // newest at the right edge; a non-number breaks the line
    const a = lossHistory.get(k);
    let down = false;
    ctx.beginPath();
    a.forEach((v, i) => {
      if (!Number.isFinite(v)) { down = false; return; }
      const x = left + ((HISTORY - a.length + i) / (HISTORY - 1)) * (right - left);
      if (down) ctx.lineTo(x, y(v)); else ctx.moveTo(x, y(v));
      down = true;
    });
    stroke(ctx, COLORS[t % COLORS.length], 1.3);
  });
}

function renderLegend(terms) {
  const box = $("legend");
  if (box.dataset.terms !== terms.join(",")) {
    box.dataset.terms = terms.join(",");
    box.replaceChildren(...terms.map((k, t) => {
      const swatch = el("i");
      swatch.style.background = COLORS[t % COLORS.length];
      return el("span", { className: "term" }, swatch, el("span", { textContent: k }), el("b"));
    }));
  }
  [...box.children].forEach((item, t) => { item.lastChild.textContent = fmt(lossHistory.get(terms[t]).slice(-1)[0]); });
}

// ---------- the stream ----------
function connect() {
  const source = new EventSource("/events?token=" + encodeURIComponent(token));
  for (const [name, handler] of [["session", onSession], ["snapshot", onSnapshot]]) {
    source.addEventListener(name, (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch { return showMessage(`unreadable ${name} event from the server`, "error"); }
      handler(data);
    });
  }
  source.addEventListener("open", () => { if (state.offline) { state.offline = false; showMessage("connected"); } });
  source.addEventListener("error", () => {
    state.offline = true;
    showMessage("disconnected — reconnecting…", "error", 0);
    if (source.readyState === EventSource.CLOSED) {   // the browser gave up (an HTTP error): retry ourselves
      source.close();
      setTimeout(connect, 3000);
    }
  });
}

// ---------- wiring ----------
const typing = (t) => t && (t.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName));

function wire() {
  const on = (id, type, f) => $(id).addEventListener(type, f);
  on("play", "click", togglePlay);
  on("step", "click", () => command({ action: "step" }));
  on("reset", "click", () => command({ action: "reset" }));
  on("save", "click", () => command({ action: "save" }));
  on("model", "change", (e) => command({ action: "model", name: e.target.value }));
  on("data", "change", (e) => command({ action: "data", name: e.target.value }));
  on("speed", "input", (e) => { $("speed-out").textContent = e.target.value; });
  on("speed", "change", (e) => command({ action: "speed", value: Number(e.target.value) }));
  on("seed", "change", (e) => {
    const v = Number(e.target.value);
    if (e.target.value === "" || !Number.isInteger(v)) { showMessage("the seed must be an integer", "error"); return syncHeader(); }
    command({ action: "seed", value: v });
  });
  on("draw", "click", () => setDrawing(!state.drawing));
  on("clear", "click", () => { state.drawn = []; scheduleFrame(); });
  wirePlane();
  document.addEventListener("keydown", (e) => {
    if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === " ") { e.preventDefault(); if (!e.repeat) togglePlay(); }
    else if (e.key === "s") { e.preventDefault(); command({ action: "step" }); }
  });
  document.addEventListener("keyup", (e) => {   // keep space from also clicking a focused button
    if (e.key === " " && !typing(e.target)) e.preventDefault();
  });
  window.addEventListener("resize", scheduleFrame);
}

wire();
buildLayers();
renderPlay();
scheduleFrame();
if (!token) showMessage("no session token in the address — open the link the server printed", "error", 0);
connect();
