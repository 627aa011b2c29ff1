// genzoo lab — the browser side: one Server-Sent Events stream in, JSON commands out. In a page written by
// `genzoo lab --export` (or the export button), window.GENZOO_REPLAY holds a recorded run instead: the same
// drawing plays it back, with no stream, no request and no command.
(() => {   // one closure: nothing of the page's leaks onto window
"use strict";

const replay = window.GENZOO_REPLAY || null;   // {session, frames}: a recording, or null on a live page
const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const LAYERS = ["heat", "contours", "truth", "grid", "real", "fake", "trajectories", "arrows"];  // the data plane's, bottom to top
const LATENT_LAYERS = ["posterior", "prior"];   // the latent plane's (the session lists them with the others)
const HISTORY = 300;        // loss values kept per term
const LOG_STEPS = 1000;     // positions of a logarithmic slider
const PEN_SPACING = 6;      // CSS px between points added while dragging
const ERASE_RADIUS = 12;    // CSS px
const COLORS = ["#d6336c", "#1c7ed6", "#2b8a3e", "#f08c00", "#7048e8", "#0c8599", "#495057", "#a61e4d",
  "#74b816", "#862e9c"];
const CODE_COLORS = [   // an InfoGAN's categories: 16 colours told apart at a glance
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
  "#bcbd22", "#393b79", "#ad494a", "#637939", "#7f7f7f", "#e7ba52", "#6b6ecf", "#843c39"];
const HUES = 24, RINGS = 3;   // a data point's colour: its angle around the data's centre, and its distance
const POSITION_PALETTE = Array.from({ length: HUES * RINGS }, (_, c) => {
  const ring = Math.floor(c / HUES);
  return `hsl(${((c % HUES) * 360) / HUES}, ${[35, 65, 85][ring]}%, ${[62, 50, 42][ring]}%)`;
});
const CONTOUR_LEVELS = [0.1, 0.3, 0.5, 0.7, 0.9];   // a KDE's scaled density
const CRITIC_LABEL = "critic D(x)";   // a heat map that is a probability: its 0.5 line is the decision boundary
const N_TRAJECTORIES = 40;   // ddpm: reverse paths drawn as lines
const REPLAY_FPS = 10;
const REAL_FILL = "rgba(47, 158, 68, 0.5)", FAKE_FILL = "rgba(112, 72, 232, 0.75)";
const MUTED_FILL = "rgba(134, 142, 150, 0.4)";   // real points while others carry the colours

// session: the last `session` event; snap: the latest full `snapshot` (drawn on the next frame); metrics: the
// last non-null ones; hidden: layers switched off; drawing: draw mode; drawn: the user's points (world
// coordinates); pen: the stroke in progress; run: the snapshots' run (a new one starts the chart again);
// real: the data's points shown (sent with the session), realColors: each one's colour by its position,
// realNoise: a fixed standard normal pair for each (ddpm's noise slider); noise: that slider's frame (null:
// the clean end, whatever the number of frames); hover: the latent point under the mouse; frame and shown:
// replay's frame on screen and the last one whose losses are in the chart.
const state = { session: null, snap: null, playing: false, metrics: null, hidden: new Set(), drawing: false,
  drawn: [], pen: null, offline: false, lastSnapMessage: null, controlSig: null, run: null,
  real: [], realColors: [], realNoise: [], noise: null, hover: null, frame: 0, shown: -1 };
const lossHistory = new Map();   // loss term -> its last values, one per step seen (NaN where not sent)
const termColors = new Map();    // loss term -> its colour, kept while the chart is
let historyLength = 0;           // the steps in the chart (all the terms' arrays have this length)
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

const setText = (e, text) => { if (e.textContent !== text) e.textContent = text; };   // no layout work if unchanged
const setHidden = (e, hidden) => { if (e.hidden !== hidden) e.hidden = hidden; };
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

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

// n standard normal pairs from a seeded generator (mulberry32, Box–Muller): the same ones on every page load,
// so that a point noised to a level stays where it was as the slider comes back to that level.
function gaussianPairs(n, seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () => {
    const r = Math.sqrt(-2 * Math.log(1 - uniform())), th = 2 * Math.PI * uniform();
    return [r * Math.cos(th), r * Math.sin(th)];
  });
}

// ---------- commands ----------
async function command(cmd, quiet = false) {   // quiet: no message unless it fails
  if (replay) return { ok: false };   // a recording has no server to ask
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
  const long = cmd.action === "save" || cmd.action === "export";   // a path to read and copy
  if (body.message && !quiet) showMessage(body.message, "info", long ? 10000 : 4000);
  return body;
}

function togglePlay() {
  if (replay) return replayPlay(!state.playing);
  state.playing = !state.playing;
  renderPlay();
  command({ action: state.playing ? "play" : "pause" });
}

function renderPlay() {
  const b = $("play");
  setText(b, state.playing ? "❚❚ pause" : "▶ play");
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
  if (document.activeElement !== $("speed")) $("speed").value = $("speed-out").textContent = s.speed;
  if (document.activeElement !== $("seed")) $("seed").value = s.seed;
}

function onSession(s) {
  const old = state.session;
  state.session = s;
  if (Array.isArray(s.real)) setReal(s.real, s.bounds);   // sent once per data
  if (!old || old.model !== s.model || old.data !== s.data) clearHistory();   // a new run: forget the old curves
  syncHeader();
  buildControls();
  buildLayers();
  buildPhases();
  scheduleFrame();
}

// The data's points, each one's colour by where it lies (the latent plane colours its code the same) and
// the noise that the ddpm's slider adds to it.
function setReal(real, b) {
  state.real = real;
  const box = Array.isArray(b) && b.length === 4 ? b : [-1, 1, -1, 1];
  const cx = (box[0] + box[1]) / 2, cy = (box[2] + box[3]) / 2;
  const radii = real.map((p) => Math.hypot(p[0] - cx, p[1] - cy));
  const far = Math.max(1e-9, ...radii);
  state.realColors = real.map((p, i) => {
    const turn = (Math.atan2(p[1] - cy, p[0] - cx) / (2 * Math.PI) + 1) % 1;
    return Math.min(RINGS - 1, Math.floor((radii[i] / far) * RINGS)) * HUES + (Math.round(turn * HUES) % HUES);
  });
  state.realNoise = gaussianPairs(real.length, 20240601);
}

// The controls of the session's family. The server describes the session again after every change of a
// value: the same controls then take their new values in place, since a rebuild would take the focus (and
// the arrow keys) away from the slider being moved; other controls are built anew.
function buildControls() {
  const s = state.session, m = (s.models || {})[s.model] || {}, controls = m.controls || [];
  setText($("model-name"), s.model || "model");
  setText($("summary"), m.summary || "");
  const sig = s.model + JSON.stringify(controls.map(({ value, ...shape }) => shape));
  const rows = [...$("controls").children];
  if (sig === state.controlSig && rows.length === controls.length) {
    controls.forEach((c, i) => rows[i].update(c));
    return;
  }
  state.controlSig = sig;
  $("controls").replaceChildren(...controls.map(makeControl));
}

// A live control sends its value while the slider moves: one command in flight at a time, the newest value
// next, so that a fast drag never queues stale values behind each other.
const live = { busy: false, next: null };
async function liveControl(c, read) {
  live.next = [c, read()];
  if (live.busy) return;
  live.busy = true;
  while (live.next) {
    const [control, value] = live.next;
    live.next = null;
    if (value !== control.value) await command({ action: "set", key: control.key, value }, true);
  }
  live.busy = false;
}

async function setControl(c, value) {
  const r = await command({ action: "set", key: c.key, value });
  if (r.ok === false) { state.controlSig = null; buildControls(); }   // back to the last good value
  else c.value = value;
}

// One row per control: a select for a choice, a slider plus an editable readout for a number. A replay shows
// the recorded values, read-only. row.update(described) shows the server's value, unless the user is on
// the input.
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
    row.update = (described) => {
      c.value = described.value;
      if (document.activeElement !== input) input.value = String(c.value);
    };
  } else if (c.type === "int" || c.type === "float") {
    const isInt = c.type === "int", log = Boolean(c.log) && c.min > 0 && c.max > c.min;
    input = el("input", log ? { type: "range", min: 0, max: LOG_STEPS, step: 1 }
      : { type: "range", min: c.min, max: c.max, step: c.step ?? (isInt ? 1 : "any") });
    const readout = el("input", { type: "number", step: "any", className: "readout", id: id + "-value",
      disabled: Boolean(replay) });
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
    input.addEventListener("input", () => {
      readout.value = fmt(read());
      if (c.live) liveControl(c, read);   // cheap to apply (a KDE's bandwidth): follow the slider as it moves
    });
    input.addEventListener("change", () => setControl(c, read()));
    readout.addEventListener("change", () => {   // typed values go to the server as they are
      const v = Number(readout.value);
      if (readout.value === "" || !Number.isFinite(v)) return show(c.value);
      show(v);
      setControl(c, isInt ? Math.round(v) : v);
    });
    row.append(input, readout);
    row.update = (described) => {
      c.value = described.value;
      if (document.activeElement !== input && document.activeElement !== readout) show(c.value);
    };
  } else {   // a type this page does not know: a text box
    row.append((input = el("input", { value: c.value ?? "" })));
    input.addEventListener("change", () => setControl(c, input.value));
    row.update = (described) => {
      c.value = described.value;
      if (document.activeElement !== input) input.value = c.value ?? "";
    };
  }
  input.id = id;
  input.disabled = Boolean(replay);
  return row;
}

const layerNames = () => (state.session && state.session.layers) || LAYERS;
const shown = (n) => layerNames().includes(n) && !state.hidden.has(n);

// A checkbox per layer, with a swatch of its colour: the data plane's under it, the latent plane's under that.
function buildLayers() {
  const names = layerNames();
  fillLayers($("layers"), names.filter((n) => !LATENT_LAYERS.includes(n)));
  fillLayers($("latent-layers"), names.filter((n) => LATENT_LAYERS.includes(n)));
}

function fillLayers(box, names) {
  if (box.dataset.names === names.join(",")) return;
  box.dataset.names = names.join(",");
  box.replaceChildren(...names.map((n) => {
    const cb = el("input", { type: "checkbox", id: "layer-" + n, checked: !state.hidden.has(n) });
    cb.addEventListener("change", () => { state.hidden[cb.checked ? "delete" : "add"](n); scheduleFrame(); });
    return el("label", { className: "layer" }, cb, el("i", { className: "sw sw-" + n }), " " + n);
  }));
}

function buildPhases() {   // a GAN's half steps: the critic's update alone, the generator's alone
  const phases = (state.session && state.session.phases) || [];
  for (const p of ["critic", "generator"]) $("step-" + p).hidden = Boolean(replay) || !phases.includes(p);
}

// ---------- snapshots ----------
function onSnapshot(snap) {
  // a full picture replaces the last (a family's keys must not outlive it); a bare error one keeps the picture
  state.snap = "fake" in snap ? snap : { ...state.snap, ...snap };
  if ("playing" in snap) state.playing = Boolean(snap.playing);   // a replay's frames leave it to the page
  if (snap.run != null && snap.run !== state.run) {   // new weights at step 0: a new chart
    state.run = snap.run;
    clearHistory();
  }
  recordLosses(snap);
  if (snap.metrics) { state.metrics = snap.metrics; renderMetrics(); }
  if (snap.message && snap.message !== state.lastSnapMessage) showMessage(snap.message, "error", 5000);
  state.lastSnapMessage = snap.message || null;
  scheduleFrame();
}

// A page that opens (or reloads) while a run goes on gets its chart so far: the losses of its last pictures.
function onHistory(h) {
  state.run = h.run;
  clearHistory();
  for (const point of h.points || []) recordLosses(point);
  scheduleFrame();
}

function clearHistory() {
  lossHistory.clear();
  termColors.clear();
  historyLength = 0;
  lastStep = -1;
  state.metrics = null;
  renderMetrics();
}

// One point per training step seen, every term on the same steps: a term missing from a snapshot is a gap
// (NaN), so that the curves stay aligned; a term missing from the whole window leaves the chart.
function recordLosses(snap) {
  if (typeof snap.step !== "number" || snap.step === lastStep) return;
  if (snap.step < lastStep) { lossHistory.clear(); historyLength = 0; }
  lastStep = snap.step;
  const losses = snap.losses || {};
  for (const k of Object.keys(losses)) {   // a new term: a gap for the steps before it
    if (lossHistory.has(k)) continue;
    lossHistory.set(k, new Array(historyLength).fill(NaN));
    if (!termColors.has(k)) termColors.set(k, COLORS[termColors.size % COLORS.length]);
  }
  for (const [k, a] of lossHistory) {
    const v = losses[k];
    a.push(typeof v === "number" ? v : NaN);
    if (a.length > HISTORY) a.shift();
    if (!(k in losses) && !a.some(Number.isFinite)) lossHistory.delete(k);
  }
  historyLength = Math.min(HISTORY, historyLength + 1);
}

function render() {
  const snap = state.snap, latent = latentOf(snap), noise = noiseFrame(snap);
  if (snap) {
    const sps = snap.steps_per_second;
    setText($("stepcount"), String(snap.step ?? 0));
    setText($("sps"), typeof sps === "number" ? sps.toFixed(0) : "–");
  }
  renderPlay();
  renderNoise(noise);
  renderCodes(snap);
  showLatentPlane(latent);   // the layout first: the canvases measure themselves after it
  drawPlane(latent, noise);
  if (latent) drawLatent(latent);
  drawLosses();
}

function renderMetrics() {
  $("metrics").tBodies[0].replaceChildren(...Object.entries(state.metrics || {}).map(([k, v]) =>
    el("tr", {}, el("th", { textContent: k }), el("td", { textContent: fmt(v) }))));
}

// ---------- the data plane ----------
function bounds() {
  const b = (state.snap && state.snap.bounds) || (state.session && state.session.bounds);
  return validBounds(b) ? b : [-1, 1, -1, 1];
}

const validBounds = (b) => Array.isArray(b) && b.length === 4 && b[1] > b[0] && b[3] > b[2];

function mapping(b, w, h) {   // world <-> CSS px in a w×h box showing bounds b, y up
  const [x0, x1, y0, y1] = b;
  return {
    px: (x, y) => [((x - x0) / (x1 - x0)) * w, (1 - (y - y0) / (y1 - y0)) * h],
    world: (cx, cy) => [x0 + (cx / w) * (x1 - x0), y1 - (cy / h) * (y1 - y0)],
  };
}

const heatCanvas = document.createElement("canvas"), latentHeatCanvas = document.createElement("canvas");
const RAMP = Array.from({ length: 256 }, (_, i) => {   // blue – white – red, as a lookup table
  const t = i / 255, white = [255, 255, 255];
  const [a, b, s] = t < 0.5 ? [[59, 76, 192], white, t * 2] : [white, [180, 4, 38], (t - 0.5) * 2];
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * s));
});

const heatOk = (heat) => heat && heat.nx > 0 && heat.ny > 0 && Array.isArray(heat.values) &&
  heat.values.length >= heat.nx * heat.ny;

function drawHeat(ctx, heat, w, h, scratch) {   // scratch: this plane's own small canvas, one pixel a cell
  const { nx, ny, values } = heat;
  if (scratch.width !== nx || scratch.height !== ny) Object.assign(scratch, { width: nx, height: ny });
  const hctx = scratch.getContext("2d"), img = hctx.createImageData(nx, ny), px = img.data;
  for (let j = 0; j < ny; j++) {   // row 0 is ymin: the bottom row of the image
    for (let i = 0; i < nx; i++) {
      const v = values[j * nx + i], o = ((ny - 1 - j) * nx + i) * 4;
      if (typeof v !== "number" || !Number.isFinite(v)) continue;   // left transparent
      const c = RAMP[Math.round(clamp(v, 0, 1) * 255)];
      px[o] = c[0]; px[o + 1] = c[1]; px[o + 2] = c[2]; px[o + 3] = 255;
    }
  }
  hctx.putImageData(img, 0, 0);
  Object.assign(ctx, { globalAlpha: 0.6, imageSmoothingEnabled: true });
  ctx.drawImage(scratch, 0, 0, w, h);
  ctx.globalAlpha = 1;
}

// The lines where a heat grid crosses `level`, by marching squares with the cells' centres as the grid's
// nodes, added to the context's path; toPx maps grid coordinates (node i, j at i, j) to CSS px. A saddle
// cell is split by the mean of its corners.
const EDGES = [   // per corner case (bit 1: bottom left, 2: bottom right, 4: top right, 8: top left above the
  // level), the edges (B bottom, R right, T top, L left) the line joins; 5 and 10 are the saddles
  "", "LB", "BR", "LR", "RT", "", "BT", "LT", "LT", "BT", "", "RT", "LR", "BR", "LB", ""];
function contourPath(ctx, heat, level, toPx) {
  const { nx, ny, values: v } = heat;
  const line = (p, q) => {
    const [a, b] = toPx(p[0], p[1]), [c, d] = toPx(q[0], q[1]);
    ctx.moveTo(a, b);
    ctx.lineTo(c, d);
  };
  for (let j = 0; j + 1 < ny; j++) {
    for (let i = 0; i + 1 < nx; i++) {
      const a = v[j * nx + i], b = v[j * nx + i + 1], c = v[(j + 1) * nx + i + 1], d = v[(j + 1) * nx + i];
      if (!(Number.isFinite(a) && Number.isFinite(b) && Number.isFinite(c) && Number.isFinite(d))) continue;
      const code = (a > level) | ((b > level) << 1) | ((c > level) << 2) | ((d > level) << 3);
      if (code === 0 || code === 15) continue;
      const at = (p, q) => (level - p) / (q - p);
      const edge = { B: [i + at(a, b), j], R: [i + 1, j + at(b, c)], T: [i + at(d, c), j + 1], L: [i, j + at(a, d)] };
      let pairs = EDGES[code];
      if (code === 5 || code === 10) {   // above along one diagonal: which pair the centre joins decides
        const centreAbove = (a + b + c + d) / 4 > level;
        pairs = (code === 5) === centreAbove ? "BRLT" : "LBRT";
      }
      for (let k = 0; k < pairs.length; k += 2) line(edge[pairs[k]], edge[pairs[k + 1]]);
    }
  }
}

function drawContours(ctx, heat, w, h, levels) {   // a heat map over the whole plane: node (i, j) at cell (i, j)'s centre
  const sx = w / heat.nx, sy = h / heat.ny;
  const toPx = (gi, gj) => [(gi + 0.5) * sx, h - (gj + 0.5) * sy];
  ctx.beginPath();
  for (const level of levels) contourPath(ctx, heat, level, toPx);
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

// The first n of pts, point i in palette[colors[i] % palette.length]: one path per colour, not per point.
function drawColoredDots(ctx, pts, n, colors, palette, map, r) {
  const groups = new Map();
  for (let i = 0; i < n; i++) {
    const c = colors[i] % palette.length;
    if (!groups.has(c)) groups.set(c, []);
    groups.get(c).push(pts[i]);
  }
  for (const [c, group] of groups) drawDots(ctx, group, map, r, palette[c]);
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

function drawPolylines(ctx, lines, map) {
  ctx.beginPath();
  for (const line of lines) {
    line.forEach((p, i) => { const [a, b] = map.px(p[0], p[1]); if (i) ctx.lineTo(a, b); else ctx.moveTo(a, b); });
  }
}

function drawPlane(latent, noise) {
  const { ctx, w, h } = fitCanvas($("plane")), b = bounds(), map = mapping(b, w, h);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  const snap = state.snap || {}, heat = heatOk(snap.heat) ? snap.heat : null;
  const heatOn = heat && shown("heat"), contoursOn = heat && shown("contours");
  const boundary = heatOn && heat.label === CRITIC_LABEL;   // GAN Lab's decision boundary, D = 0.5
  const truth = state.session && state.session.truth, truthOn = Boolean(truth) && shown("truth");
  setText($("heat-label"), [heatOn && heat.label, boundary && "dashed: D = 0.5",
    contoursOn && `lines: ${CONTOUR_LEVELS.join(", ")}`,
    truthOn && "green: the true density, 1σ–3σ (within 3σ: high quality)"].filter(Boolean).join(" · "));
  if (heatOn) drawHeat(ctx, heat, w, h, heatCanvas);
  if (contoursOn) {
    drawContours(ctx, heat, w, h, CONTOUR_LEVELS);
    stroke(ctx, "rgba(33, 37, 41, 0.7)", 0.9);
  }
  if (boundary) {
    drawContours(ctx, heat, w, h, [0.5]);
    ctx.setLineDash([5, 4]);
    stroke(ctx, "rgba(33, 37, 41, 0.9)", 1.4);
    ctx.setLineDash([]);
  }
  if (truthOn) drawTruth(ctx, truth, map);
  if (shown("grid") && Array.isArray(snap.grid)) {
    drawPolylines(ctx, snap.grid, map);
    stroke(ctx, "rgba(110, 110, 110, 0.55)", 0.7);
  }
  if (shown("real")) drawReal(ctx, map, latent, noise, Boolean(snap.codes));
  if (shown("fake")) drawFake(ctx, snap, map, noise);
  if (noise && shown("trajectories")) drawTrajectories(ctx, noise, map);
  if (shown("arrows") && Array.isArray(snap.arrows)) drawArrows(ctx, snap.arrows, map);
  if (state.drawing && state.drawn.length) drawDots(ctx, state.drawn, map, 4.5, "rgba(240, 140, 0, 0.85)", "#5c3b00");
  if (latent && state.hover) drawDecoded(ctx, decodeAt(latent.decoded, latent.bounds, state.hover), map);
}

// The true density where the data's is known: each component N(μ_k, σ²I)'s 1σ, 2σ and 3σ circles, the
// outermost dashed (a sample within it counts as "high quality"), never thinner than a few pixels.
function drawTruth(ctx, truth, map) {
  const [ox] = map.px(0, 0), [sx] = map.px(truth.sigma, 0), r = Math.abs(sx - ox);
  for (const k of [1, 2, 3]) {
    ctx.beginPath();
    for (const [mx, my] of truth.modes) {
      const [a, b] = map.px(mx, my), radius = Math.max(k * 1.5, k * r);
      ctx.moveTo(a + radius, b);
      ctx.arc(a, b, radius, 0, 2 * Math.PI);
    }
    if (k === 3) ctx.setLineDash([3, 3]);
    stroke(ctx, "rgba(43, 138, 62, 0.8)", 1);
    ctx.setLineDash([]);
  }
}

// The data's points: noised to the ddpm slider's level; coloured by position where the latent plane shows
// their codes (the others muted); muted where the fake points carry an InfoGAN's code colours.
function drawReal(ctx, map, latent, noise, coded) {
  const pts = noise && noise.k < noise.S ? noisedReal(noise) : state.real;
  const n = latent && shown("posterior") ? Math.min(latent.encoded.length, pts.length) : 0;
  if (n) {
    drawDots(ctx, pts.slice(n), map, 1.6, MUTED_FILL);
    drawColoredDots(ctx, pts, n, state.realColors, POSITION_PALETTE, map, 2.6);
  } else drawDots(ctx, pts, map, 1.8, coded ? MUTED_FILL : REAL_FILL);
}

function drawFake(ctx, snap, map, noise) {
  if (noise && noise.k < noise.S) return drawDots(ctx, noise.frames[noise.k], map, 1.8, FAKE_FILL);
  if (!Array.isArray(snap.fake)) return;
  if (Array.isArray(snap.codes)) {
    drawColoredDots(ctx, snap.fake, Math.min(snap.codes.length, snap.fake.length), snap.codes, CODE_COLORS, map, 2);
  } else drawDots(ctx, snap.fake, map, 1.8, FAKE_FILL);
}

function drawDecoded(ctx, p, map) {   // where the latent point under the mouse decodes: a ring, seen on any colour
  if (!p) return;
  const [a, b] = map.px(p[0], p[1]);
  ctx.beginPath();
  ctx.arc(a, b, 7, 0, 2 * Math.PI);
  stroke(ctx, "#fff", 4.5);
  stroke(ctx, "#000", 2);
  ctx.beginPath();
  ctx.arc(a, b, 1.5, 0, 2 * Math.PI);
  ctx.fillStyle = "#000";
  ctx.fill();
}

// ---------- ddpm: the noise-level slider and the reverse paths ----------
// {frames, levels, shift, scale, S, k}: the reverse paths of the snapshot and the slider's frame k of 0..S
// (S: the clean end); null without paths.
function noiseFrame(snap) {
  const p = snap && snap.paths;
  if (!p || !Array.isArray(p.frames) || p.frames.length < 1 || !Array.isArray(p.levels) ||
      p.levels.length !== p.frames.length) return null;
  const S = p.frames.length - 1;
  return { ...p, S, k: state.noise == null ? S : clamp(state.noise, 0, S) };
}

function renderNoise(noise) {
  setHidden($("noise-row"), !noise);
  if (!noise) return;
  if (state.noise != null && state.noise >= noise.S) state.noise = null;   // fewer frames: clamped to the end
  const input = $("noise"), level = noise.levels[noise.k] || {};
  if (Number(input.max) !== noise.S) input.max = String(noise.S);
  if (Number(input.value) !== noise.k) input.value = String(noise.k);
  const ab = typeof level.alpha_bar === "number" ? ` · ᾱ = ${level.alpha_bar.toFixed(2)}` : "";
  setText($("noise-out"), `t = ${level.t ?? "?"}${ab}`);
}

// The real points noised to the slider's level as the forward chain would: in the model's standardised
// coordinates √ᾱ·x₀ + √(1−ᾱ)·ε, with ε fixed per point.
function noisedReal(noise) {
  const ab = clamp(Number(noise.levels[noise.k].alpha_bar) || 0, 0, 1), m = Math.sqrt(ab), s = Math.sqrt(1 - ab);
  const [sa, sb] = noise.shift || [0, 0], [ca, cb] = noise.scale || [1, 1], eps = state.realNoise;
  return state.real.map((p, i) => {
    const e = eps[i] || [0, 0];
    return [sa + m * (p[0] - sa) + s * ca * e[0], sb + m * (p[1] - sb) + s * cb * e[1]];
  });
}

function drawTrajectories(ctx, noise, map) {   // the first paths from noise to sample, a dot at the slider's frame
  const K = Math.min(N_TRAJECTORIES, noise.frames[0].length);
  drawPolylines(ctx, Array.from({ length: K }, (_, i) => noise.frames.map((frame) => frame[i])), map);
  stroke(ctx, "rgba(112, 72, 232, 0.45)", 1);
  drawDots(ctx, noise.frames[noise.k].slice(0, K), map, 2.6, "rgba(76, 40, 180, 0.95)", "#fff");
}

// ---------- an InfoGAN's codes ----------
function renderCodes(snap) {
  const codes = snap && Array.isArray(snap.codes) && shown("fake") ? snap.codes : null, box = $("codes");
  setHidden(box, !codes);
  $("layers").classList.toggle("by-code", Boolean(codes));
  if (!codes) return;
  const s = state.session || {}, control = ((s.models || {})[s.model] || {}).controls || [];
  const categories = (control.find((c) => c.key === "categories") || {}).value;
  const k = Math.min(CODE_COLORS.length, Math.max(Number(categories) || 0, Math.max(...codes) + 1));
  if (box.dataset.k === String(k)) return;
  box.dataset.k = String(k);
  box.replaceChildren(el("span", { textContent: "fake points by their code:" }), ...Array.from({ length: k }, (_, c) => {
    const swatch = el("i");
    swatch.style.background = CODE_COLORS[c];
    return el("span", {}, swatch, "code " + c);
  }));
}

// ---------- the latent plane ----------
function latentOf(snap) {   // the snapshot's latent plane if it can be drawn, else null (the plane hidden)
  const l = snap && snap.latent;
  return l && validBounds(l.bounds) && Array.isArray(l.encoded) && Array.isArray(l.prior) && l.decoded &&
    l.decoded.n >= 2 && Array.isArray(l.decoded.points) && l.decoded.points.length >= l.decoded.n ** 2 ? l : null;
}

function showLatentPlane(latent) {
  const on = Boolean(latent);
  if ($("latent-box").hidden === on) {
    $("latent-box").hidden = !on;
    $("main").classList.toggle("with-latent", on);
    if (!on) state.hover = null;
  }
  $("layers").classList.toggle("by-position", on && shown("posterior"));
  if (!on) return;
  const sigma = latent.encoded.some((e) => e[2] > 0 || e[3] > 0);
  setText($("latent-hint"), "hover: where that z decodes on the data plane (the ring) · a data point's code " +
    "has the point's colour" + (sigma ? " · ellipses: 1σ of q(z|x)" : "") +
    (latent.heat ? " · heat: the code discriminator" : ""));
  setText($("latent-heat-label"), heatOk(latent.heat) ? latent.heat.label || "" : "");
  const z = state.hover, x = z && decodeAt(latent.decoded, latent.bounds, z);
  const pair = (p) => `(${p[0].toFixed(2)}, ${p[1].toFixed(2)})`;
  setText($("latent-readout"), z && x ? `z = ${pair(z)} → x = ${pair(x)}` : "");
}

// The decoder's image of z, interpolated bilinearly in its n × n grid over bounds (row by row from the bottom).
function decodeAt(decoded, b, z) {
  const n = decoded.n, pts = decoded.points;
  const u = clamp(((z[0] - b[0]) / (b[1] - b[0])) * (n - 1), 0, n - 1);
  const v = clamp(((z[1] - b[2]) / (b[3] - b[2])) * (n - 1), 0, n - 1);
  const i = Math.min(n - 2, Math.floor(u)), j = Math.min(n - 2, Math.floor(v)), fu = u - i, fv = v - j;
  const p00 = pts[j * n + i], p10 = pts[j * n + i + 1], p01 = pts[(j + 1) * n + i], p11 = pts[(j + 1) * n + i + 1];
  if (!p00 || !p10 || !p01 || !p11) return null;
  const mix = (k) => (1 - fv) * ((1 - fu) * p00[k] + fu * p10[k]) + fv * ((1 - fu) * p01[k] + fu * p11[k]);
  return [mix(0), mix(1)];
}

function drawLatent(latent) {
  const { ctx, w, h } = fitCanvas($("latent")), b = latent.bounds, map = mapping(b, w, h);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  if (heatOk(latent.heat)) drawHeat(ctx, latent.heat, w, h, latentHeatCanvas);
  ctx.beginPath();   // the axes: the prior is centred on the origin
  const [ox, oy] = map.px(0, 0);
  ctx.moveTo(0, oy); ctx.lineTo(w, oy); ctx.moveTo(ox, 0); ctx.lineTo(ox, h);
  stroke(ctx, "rgba(134, 142, 150, 0.5)", 1);
  const grid = state.snap && state.snap.grid;
  if (shown("grid") && Array.isArray(grid) && grid.length >= 4) {   // the grid the data plane shows decoded
    const lines = grid.length / 2, step = (k, lo, hi) => lo + (k * (hi - lo)) / (lines - 1);
    ctx.beginPath();
    for (let k = 0; k < lines; k++) {
      const [x] = map.px(step(k, b[0], b[1]), 0), [, y] = map.px(0, step(k, b[2], b[3]));
      ctx.moveTo(x, 0); ctx.lineTo(x, h); ctx.moveTo(0, y); ctx.lineTo(w, y);
    }
    stroke(ctx, "rgba(110, 110, 110, 0.3)", 0.7);
  }
  if (shown("prior")) drawDots(ctx, latent.prior, map, 1.6, "rgba(134, 142, 150, 0.6)");
  if (shown("posterior")) drawPosterior(ctx, latent.encoded, map, w / (b[1] - b[0]), h / (b[3] - b[2]));
  if (state.hover) {   // the crosshair
    const [a, c] = map.px(state.hover[0], state.hover[1]);
    ctx.beginPath();
    ctx.moveTo(a, 0); ctx.lineTo(a, h); ctx.moveTo(0, c); ctx.lineTo(w, c);
    stroke(ctx, "rgba(0, 0, 0, 0.45)", 1);
    ctx.beginPath();
    ctx.arc(a, c, 4, 0, 2 * Math.PI);
    stroke(ctx, "#000", 1.5);
  }
}

// Each encoded point's mean as a dot in its data point's colour and, where it has one (a VAE), its 1-σ
// ellipse: one path per colour.
function drawPosterior(ctx, encoded, map, sx, sy) {
  const n = Math.min(encoded.length, state.realColors.length), groups = new Map();
  for (let i = 0; i < n; i++) {
    const c = state.realColors[i];
    if (!groups.has(c)) groups.set(c, []);
    groups.get(c).push(encoded[i]);
  }
  ctx.globalAlpha = 0.3;
  for (const [c, group] of groups) {
    ctx.beginPath();
    for (const [m1, m2, s1, s2] of group) {
      if (!(s1 > 0 && s2 > 0)) continue;
      const [a, b] = map.px(m1, m2);
      ctx.moveTo(a + s1 * sx, b);
      ctx.ellipse(a, b, s1 * sx, s2 * sy, 0, 0, 2 * Math.PI);
    }
    stroke(ctx, POSITION_PALETTE[c], 0.8);
  }
  ctx.globalAlpha = 1;
  for (const [c, group] of groups) drawDots(ctx, group, map, 2.6, POSITION_PALETTE[c]);
}

function wireLatent() {   // hover: the decoded point on the data plane; a touch keeps it until the next one
  const latent = $("latent");
  const at = (e) => {
    const l = latentOf(state.snap);
    if (!l) return;
    const r = latent.getBoundingClientRect();
    state.hover = mapping(l.bounds, r.width, r.height).world(e.clientX - r.left, e.clientY - r.top);
    scheduleFrame();
  };
  latent.addEventListener("pointermove", at);
  latent.addEventListener("pointerdown", at);
  latent.addEventListener("pointerleave", (e) => {
    if (e.pointerType !== "mouse") return;
    state.hover = null;
    scheduleFrame();
  });
}

// ---------- drawing data ----------
function setDrawing(on) {
  state.drawing = on;
  toggleButton($("draw"), on);
  $("plane").classList.toggle("drawing", on);
  scheduleFrame();
}

function penAt(e) {   // add points along the stroke, or erase near the cursor with shift
  const r = $("plane").getBoundingClientRect(), map = mapping(bounds(), r.width, r.height), pen = state.pen;
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
  let lo = Infinity, hi = -Infinity;
  for (const a of lossHistory.values()) {
    for (const v of a) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
  if (lo > hi) return;
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
  // live: the newest at the right edge; a replay: its frames from the left edge, the width all of them
  const slots = replay ? Math.min(HISTORY, replay.frames.length) : HISTORY;
  for (const k of terms) {   // a non-number breaks the line
    const a = lossHistory.get(k), first = replay ? 0 : slots - a.length;
    let down = false;
    ctx.beginPath();
    a.forEach((v, i) => {
      if (!Number.isFinite(v)) { down = false; return; }
      const x = left + ((first + i) / Math.max(1, slots - 1)) * (right - left);
      if (down) ctx.lineTo(x, y(v)); else ctx.moveTo(x, y(v));
      down = true;
    });
    stroke(ctx, termColors.get(k) || COLORS[0], 1.3);
  }
}

function renderLegend(terms) {
  const box = $("legend");
  if (box.dataset.terms !== terms.join(",")) {
    box.dataset.terms = terms.join(",");
    box.replaceChildren(...terms.map((k) => {
      const swatch = el("i");
      swatch.style.background = termColors.get(k) || COLORS[0];
      return el("span", { className: "term" }, swatch, el("span", { textContent: k }), el("b"));
    }));
  }
  [...box.children].forEach((item, t) => {   // the latest value; a dash where the latest step did not send one
    const v = lossHistory.get(terms[t]).slice(-1)[0];
    setText(item.lastChild, Number.isFinite(v) ? fmt(v) : "–");
  });
}

// ---------- the stream ----------
function connect() {
  const source = new EventSource("/events?token=" + encodeURIComponent(token));
  for (const [name, handler] of [["session", onSession], ["history", onHistory], ["snapshot", onSnapshot]]) {
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

// ---------- replay: a recorded run, played back without a server ----------
let replayTimer = 0;

// Show frame i of the recording: the chart and the figures hold frames 0..i, rebuilt from the first frame
// unless i just follows the frame shown last.
function showFrame(i) {
  const frames = replay.frames;
  i = clamp(i, 0, frames.length - 1);
  if (i !== state.shown + 1) {
    clearHistory();
    for (let f = 0; f < i; f++) {
      recordLosses(frames[f]);
      if (frames[f].metrics) state.metrics = frames[f].metrics;
    }
    renderMetrics();
  }
  state.frame = state.shown = i;
  onSnapshot(frames[i]);
  $("frame").value = String(i);
  setText($("frame-out"), `frame ${i + 1} / ${frames.length} · step ${frames[i].step ?? "?"}`);
}

function replayPlay(on) {   // ~REPLAY_FPS frames a second to the end; from the start again if there already
  state.playing = on;
  clearInterval(replayTimer);
  if (on) {
    if (state.frame >= replay.frames.length - 1) showFrame(0);
    replayTimer = setInterval(() => {
      if (state.frame >= replay.frames.length - 1) replayPlay(false);
      else showFrame(state.frame + 1);
    }, 1000 / REPLAY_FPS);
  }
  renderPlay();
}

function replayStep(by) {
  replayPlay(false);
  showFrame(state.frame + by);
}

function startReplay() {
  const frames = Array.isArray(replay.frames) ? replay.frames : [];
  replay.frames = frames;
  $("banner").hidden = false;
  for (const id of ["speed-box", "save", "export", "draw", "clear", "sps-box"]) $(id).hidden = true;
  for (const id of ["model", "data", "seed"]) $(id).disabled = true;
  $("frame-box").hidden = false;
  $("play").title = "play the recording (space)";
  $("step").title = "the next frame (s or →)";
  $("reset").title = "back to the first frame";
  $("hint").textContent = "recorded: space plays or pauses · s or →: next frame · ←: previous frame";
  $("frame").max = String(Math.max(0, frames.length - 1));
  if (replay.session) onSession(replay.session);
  if (frames.length) {
    state.run = frames[0].run ?? null;
    showFrame(0);
  } else showMessage("this recording has no frames", "error", 0);
}

// ---------- wiring ----------
const typing = (t) => t && (t.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName));

function wire() {
  const on = (id, type, f) => $(id).addEventListener(type, f);
  on("play", "click", togglePlay);
  on("step", "click", () => (replay ? replayStep(1) : command({ action: "step" })));
  on("step-critic", "click", () => command({ action: "step", phase: "critic" }));
  on("step-generator", "click", () => command({ action: "step", phase: "generator" }));
  on("reset", "click", () => (replay ? (replayPlay(false), showFrame(0)) : command({ action: "reset" })));
  on("save", "click", () => command({ action: "save" }));
  on("export", "click", () => command({ action: "export" }));
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
  on("noise", "input", (e) => {   // at the clean end it follows the number of frames; elsewhere it stays put
    const k = Number(e.target.value), S = Number(e.target.max);
    state.noise = k >= S ? null : k;
    scheduleFrame();
  });
  on("frame", "input", (e) => { replayPlay(false); showFrame(Number(e.target.value)); });
  wirePlane();
  wireLatent();
  document.addEventListener("keydown", (e) => {
    if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    const next = e.key === "s" || (replay && e.key === "ArrowRight");
    if (e.key === " ") { e.preventDefault(); if (!e.repeat) togglePlay(); }
    else if (next) { e.preventDefault(); if (replay) replayStep(1); else command({ action: "step" }); }
    else if (replay && e.key === "ArrowLeft") { e.preventDefault(); replayStep(-1); }
  });
  document.addEventListener("keyup", (e) => {   // keep space from also clicking a focused button
    if (e.key === " " && !typing(e.target)) e.preventDefault();
  });
  window.addEventListener("resize", scheduleFrame);
}

wire();
buildLayers();
renderPlay();
if (replay) startReplay();
else {
  if (!token) showMessage("no session token in the address — open the link the server printed", "error", 0);
  connect();
}
scheduleFrame();
})();
