// fakelens web page: upload a file to POST /v1/detect and show the verdicts.
// Server data reaches the page only through textContent and DOM properties, never parsed as markup, and
// everything runs from this file (the Content-Security-Policy allows no inline script or style).
const $ = (id) => document.getElementById(id);
const drop = $("drop"), input = $("file"), keyInput = $("api-key");
const KEY_STORE = "fakelens-api-key";  // sessionStorage: gone when the tab closes, never sent to another site
const SVG = "http://www.w3.org/2000/svg";
let last = null;

function apiKey() { return sessionStorage.getItem(KEY_STORE) || ""; }
function authHeaders() { return apiKey() ? { "X-API-Key": apiKey() } : {}; }
function askForKey(message) {
  $("key-row").hidden = false;
  keyInput.focus();
  if (message) setStatus(message, true);
}

keyInput.value = apiKey();
keyInput.addEventListener("change", () => {
  sessionStorage.setItem(KEY_STORE, keyInput.value.trim());
  setStatus("");
  loadModel();
});

function loadModel() {
  fetch("/v1/models", { headers: authHeaders() }).then((r) => {
    if (r.status === 401) { askForKey(apiKey() ? "The API key was refused: check it." : ""); return null; }
    return r.ok ? r.json() : null;
  }).then((m) => {
    if (!m) return;
    const model = m.models[0], bands = model.bands;
    const edges = bands ? `REAL below ${fmt(bands.real_below)}, FAKE from ${fmt(bands.fake_from)} for one face`
                        : `threshold ${fmt(model.threshold)}`;
    $("model").textContent = `${model.name} (${model.backend}; ${edges})`;
  }).catch(() => {});
}

fetch("/healthz").then((r) => r.json()).then((h) => { if (h.api_key_required) $("key-row").hidden = false; }).catch(() => {});
loadModel();

["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]); });
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") input.click(); });
// The input is cleared after each pick, so choosing the same file again (after entering a key, say) uploads it again.
input.addEventListener("change", () => { if (input.files.length) { const file = input.files[0]; input.value = ""; upload(file); } });
document.querySelectorAll("input[name=overlay]").forEach((r) => r.addEventListener("change", renderFaces));

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function upload(file) {
  $("result").hidden = true;
  setStatus(`Analysing ${file.name}…`);
  const form = new FormData();
  form.append("file", file);
  form.append("explain", $("want-explain").checked && !file.type.startsWith("video") ? "all" : "none");
  let res;
  try {
    res = await fetch("/v1/detect", { method: "POST", body: form, headers: authHeaders() });
  } catch (err) {
    return setStatus("The service could not be reached.", true);
  }
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) return askForKey("This server needs an API key: enter it above and drop the file again.");
  if (!res.ok) {
    const why = { 400: "Bad request", 403: "Refused", 408: "Upload too slow", 413: "File too large", 415: "Unsupported file type",
                  422: "Could not read this file", 503: "The service is busy" }[res.status] || `Error ${res.status}`;
    return setStatus(`${why}: ${typeof body.detail === "string" ? body.detail : ""}`, true);
  }
  if (last) URL.revokeObjectURL(last.url);
  last = { body, url: URL.createObjectURL(file), isVideo: body.media === "video" };
  show();
}

// ------------------------------------------------------------------ words and numbers
// The score is the calibrated P(fake), shown on the 0-1 scale of the bands with the edges that give it its
// meaning (as the CLI's fakelens.inference.calibration.verdict_with_score words it): never a bare percentage.
const VERDICTS = ["REAL", "UNCERTAIN", "FAKE"];
const VERDICT_COLOUR = { FAKE: "#c5221f", UNCERTAIN: "#b06000", REAL: "#137333" };
function verdictColour(label) { return VERDICT_COLOUR[label] || "#6e6e73"; }
function known(label) { return VERDICTS.includes(label) ? label : null; }
function isNumber(v) { return typeof v === "number" && Number.isFinite(v); }

// Decimals that keep a score on the same side of every edge as it is: 0.968 beside "FAKE from 0.97" must not read 0.97.
function digitsFor(score, edges) {
  for (let d = 2; d < 6; d++) {
    const shown = Number(score.toFixed(d));
    if (edges.every((e) => (shown < Number(e.toFixed(d))) === (score < e))) return d;
  }
  return 6;
}
function fmt(v, d = 2) { return isNumber(v) ? v.toFixed(d) : "?"; }
function bandsVerdict(score, bands) {
  return score >= bands.fake_from ? "FAKE" : score < bands.real_below ? "REAL" : "UNCERTAIN";
}

// "fake-likeness 0.92 (REAL below 0.30, FAKE from 0.97)"
function scoreText(score, bands) {
  if (!isNumber(score)) return "no score";
  if (!bands || !isNumber(bands.real_below) || !isNumber(bands.fake_from)) return `fake-likeness ${fmt(score)}`;
  const d = digitsFor(score, [bands.real_below, bands.fake_from]);
  return `fake-likeness ${fmt(score, d)} (REAL below ${fmt(bands.real_below, d)}, FAKE from ${fmt(bands.fake_from, d)})`;
}

// A verdict word in its colour, as an element.
function verdictWord(label) {
  const span = document.createElement("span");
  span.className = (known(label) || "none").toLowerCase();
  span.textContent = known(label) || "no verdict";
  return span;
}

// A 0-1 scale with the REAL, UNCERTAIN and FAKE zones and a tick at the score.
function scaleBar(score, bands) {
  const bar = document.createElement("div");
  bar.className = "scale";
  bar.title = scoreText(score, bands);
  if (bands && isNumber(bands.real_below) && isNumber(bands.fake_from)) {
    const zones = [["real", 0, bands.real_below], ["uncertain", bands.real_below, bands.fake_from], ["fake", bands.fake_from, 1]];
    zones.forEach(([cls, a, b]) => {
      const zone = document.createElement("span");
      zone.className = `zone ${cls}-zone`;
      zone.style.left = `${100 * a}%`;
      zone.style.width = `${100 * Math.max(0, b - a)}%`;
      bar.appendChild(zone);
    });
  }
  if (isNumber(score)) {
    const tick = document.createElement("span");
    tick.className = "tick";
    tick.style.left = `${100 * Math.min(1, Math.max(0, score))}%`;
    bar.appendChild(tick);
  }
  return bar;
}

function marker(number, label, cls = "marker") {
  const m = document.createElement("span");
  m.className = `${cls} ${(known(label) || "none").toLowerCase()}-marker`;
  m.textContent = String(number);
  return m;
}

// ------------------------------------------------------------------ the result
function whole(b) {
  return last.isVideo ? { label: b.video_verdict, score: b.video_prob, bands: b.video_bands, what: "Video" }
                      : { label: b.image_verdict, score: b.image_prob, bands: b.image_bands, what: "Image" };
}

function show() {
  const b = last.body;
  $("raw").textContent = JSON.stringify(b, (k, v) => (typeof v === "string" && v.startsWith("data:image") ? "<image>" : v), 2);
  $("result").hidden = false;
  const w = whole(b), heading = $("verdict"), scoreLine = $("verdict-score");
  heading.replaceChildren();
  scoreLine.textContent = "";
  if (known(w.label)) {
    heading.append(`${w.what} verdict: `, verdictWord(w.label));
    if (isNumber(w.score)) {
      const byScore = w.bands && bandsVerdict(w.score, w.bands);
      const several = last.isVideo ? (b.tracks || []).filter((t) => t.used).length > 1 : (b.faces || []).length > 1;
      const who = last.isVideo ? "Most-fake person" : several ? "Most-fake face" : "The face";
      scoreLine.textContent = `${who}: ${scoreText(w.score, w.bands)}.`;
      if (byScore && byScore !== w.label) {
        scoreLine.textContent += ` The verdict is ${w.label} for the reasons under "Why", not for this score.`;
      }
    }
  } else {
    heading.textContent = b.status === "no_face" ? "No face found: nothing to judge." : "No verdict.";
  }
  if (b.status === "no_face") setStatus("");
  else if (last.isVideo) setStatus(`Video: ${b.n_frames_sampled} frames sampled, ${b.n_tracks} person(s).`);
  else setStatus(`${b.n_faces} face(s) found${b.kind === "crop" ? " (the image is a face crop)" : ""}.`);
  const warnings = (b.warnings || []).filter((x) => typeof x === "string");
  if (warnings.length) setStatus(`${$("status").textContent} Note: ${warnings.join("; ")}.`.trim());

  $("stage").hidden = last.isVideo;
  $("plot").hidden = !last.isVideo || b.status !== "ok";
  $("faces-title").textContent = last.isVideo ? "People (one verdict each)" : "Faces";
  if (!last.isVideo) {
    const img = $("photo");
    img.onload = drawBoxes;
    img.src = last.url;
  } else if (b.status === "ok") {
    drawChart(b);
  }
  $("toggles").hidden = !(b.faces || []).some((f) => f.explanation);
  renderFaces();
  renderWhy(b);
}

// Boxes on a canvas; their numbers as elements over it, placed so that no two overlap.
function drawBoxes() {
  const img = $("photo"), canvas = $("boxes"), layer = $("markers"), b = last.body;
  canvas.width = img.clientWidth; canvas.height = img.clientHeight;
  const sx = img.clientWidth / img.naturalWidth, sy = img.clientHeight / img.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.lineWidth = 2;
  layer.replaceChildren();
  const faces = b.faces || [];
  const boxes = faces.map((f) => { const [x0, y0, x1, y1] = f.box; return [x0 * sx, y0 * sy, x1 * sx, y1 * sy]; });
  faces.forEach((f, i) => {
    const [x0, y0, x1, y1] = boxes[i];
    ctx.strokeStyle = verdictColour(f.verdict);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  });
  const markers = faces.map((f, i) => {
    const m = marker(i + 1, f.verdict);
    m.title = `Face ${i + 1}: ${f.verdict}`;
    layer.appendChild(m);
    return m;
  });
  const size = [Math.max(0, ...markers.map((m) => m.offsetWidth)), Math.max(0, ...markers.map((m) => m.offsetHeight))];
  placeBadges(boxes, size, canvas.width, canvas.height).forEach(([x, y], i) => {
    markers[i].style.left = `${x}px`;
    markers[i].style.top = `${y}px`;
  });
}

// As fakelens.faces.annotate.place_badges: the box's top-left corner inside it, then above it, then its other
// corners; where all are taken (boxes on top of each other), down the box's left edge until free.
function placeBadges(boxes, [bw, bh], width, height) {
  const placed = [];
  const free = ([x, y]) => placed.every(([px, py]) => x + bw <= px || px + bw <= x || y + bh <= py || py + bh <= y);
  const inside = ([x, y]) => [Math.min(Math.max(0, x), Math.max(0, width - bw)), Math.min(Math.max(0, y), Math.max(0, height - bh))];
  boxes.forEach(([x0, y0, x1, y1]) => {
    const tries = [[x0, y0], [x0, y0 - bh], [x1 - bw, y0], [x0, y1 - bh], [x1 - bw, y1 - bh], [x0, y1]].map(inside);
    let spot = tries.find(free);
    const perColumn = Math.max(1, Math.floor(height / bh));
    for (let step = 1; !spot; step++) {
      const candidate = inside([x0 + bw * Math.floor(step / perColumn), y0 + bh * step]);
      if (free(candidate) || step > 4 * boxes.length + 8) spot = candidate;
    }
    placed.push(spot);
  });
  return placed;
}

function renderFaces() {
  const list = $("faces");
  list.replaceChildren();
  if (!last) return;
  const b = last.body;
  const mode = document.querySelector("input[name=overlay]:checked").value;
  const items = last.isVideo
    ? (b.tracks || []).map((t) => ({
      ...t, number: t.track + 1, title: `Person ${t.track + 1}`,
      note: `seen in ${t.n_faces} of ${b.n_frames_sampled} frames${t.used ? "" : "; too few to count in the video verdict"}`,
    }))
    : (b.faces || []).map((f, i) => ({ ...f, number: i + 1, title: `Face ${i + 1}`, note: "" }));
  items.forEach((f) => {
    const li = document.createElement("li");
    li.className = known(f.verdict) || "none";
    const e = f.explanation;
    const src = e && mode === "gradcam" ? e.gradcam_overlay : e && mode === "lime" ? e.lime_overlay : null;
    li.appendChild(marker(f.number, f.verdict, "marker inline"));
    if (typeof src === "string" && src.startsWith("data:image/png;base64,")) {
      const img = document.createElement("img");
      img.className = "face";
      img.alt = `${mode} overlay`;
      img.src = src;
      li.appendChild(img);
    }
    const text = document.createElement("div");
    const title = document.createElement("strong");
    title.textContent = f.title;
    text.append(title, ": ", verdictWord(f.verdict));
    const detail = document.createElement("div");
    detail.className = "score";
    detail.textContent = scoreText(f.prob_fake, b.bands) + (f.note ? `; ${f.note}` : "");
    text.append(detail, scaleBar(f.prob_fake, b.bands));
    li.appendChild(text);
    list.appendChild(li);
  });
}

// ------------------------------------------------------------------ why
const SOURCES = { c2pa: "C2PA manifest", xmp: "XMP metadata", "png-text": "generator text (PNG/EXIF)", exif: "EXIF", model: "the model" };
const CLAIMS = {
  ai_generated: "made by an AI generator", ai_edited: "edited with AI", camera_capture: "captured by a camera", none: "no claim",
};

function validityText(valid) {
  return valid === true ? "valid" : valid === false ? "invalid: not trusted" : "not verifiable";
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function renderWhy(b) {
  const reasons = $("reasons"), tbody = $("evidence").tBodies[0], scores = $("model-scores");
  reasons.replaceChildren(); tbody.replaceChildren(); scores.replaceChildren();
  (Array.isArray(b.reasons) ? b.reasons : []).forEach((r) => {
    const li = document.createElement("li");
    li.textContent = typeof r === "string" ? r : JSON.stringify(r);
    reasons.appendChild(li);
  });
  // evidence: what the file's metadata claims (absent from the response: nothing is said)
  const evidence = Array.isArray(b.evidence) ? b.evidence.filter((e) => e && typeof e === "object") : null;
  $("evidence-block").hidden = evidence === null;
  if (evidence !== null) {
    // the model's items are listed under its scores below; the table holds what the file itself claims
    const fromFile = evidence.filter((e) => e.source !== "model");
    fromFile.forEach((e) => {
      const tr = document.createElement("tr");
      tr.className = `claim-${String(e.claim)}`;
      tr.append(cell(SOURCES[e.source] || String(e.source)), cell(CLAIMS[e.claim] || String(e.claim)),
                cell(e.detail == null ? "" : String(e.detail)), cell(e.source === "model" ? "" : validityText(e.valid)));
      tbody.appendChild(tr);
    });
    $("evidence").hidden = fromFile.length === 0;
    $("evidence-note").textContent = fromFile.length
      ? "A claim under an invalid signature is shown but not trusted; a camera claim never outweighs a FAKE face."
      : "The file carries no provenance metadata. That proves nothing either way: metadata is easily removed.";
  }
  // the model's own scores, face by face (or person by person)
  const items = last.isVideo ? (b.tracks || []).map((t) => [`Person ${t.track + 1}`, t])
                             : (b.faces || []).map((f, i) => [`Face ${i + 1}`, f]);
  if (!items.length) {
    const li = document.createElement("li");
    li.textContent = "No face was found, so the model gave no score.";
    scores.appendChild(li);
  }
  items.forEach(([name, f]) => {
    const li = document.createElement("li");
    li.append(`${name}: `, verdictWord(f.verdict), `, ${scoreText(f.prob_fake, b.bands)}`);
    scores.appendChild(li);
  });
}

// ------------------------------------------------------------------ the video plot
function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, String(v)));
  if (text !== undefined) el.textContent = text;
  return el;
}

function drawChart(b) {
  const svg = $("chart"), W = 600, H = 220, pad = 30;
  svg.replaceChildren();
  const pts = [];
  (b.frames || []).forEach((fr, i) => (fr.faces || []).forEach((f) => { if (isNumber(f.prob_fake)) pts.push([i, f.prob_fake, f.track]); }));
  const n = Math.max(1, (b.frames || []).length - 1);
  const x = (i) => pad + (i / n) * (W - 2 * pad), y = (p) => H - pad - p * (H - 2 * pad);
  const colours = ["#1a73e8", "#e37400", "#9334e6", "#188038", "#d93025"];
  svg.append(svgEl("line", { x1: pad, y1: y(0), x2: W - pad, y2: y(0), stroke: "#999" }),
             svgEl("line", { x1: pad, y1: y(1), x2: pad, y2: y(0), stroke: "#999" }),
             svgEl("text", { x: 4, y: y(1) + 4, "font-size": 10 }, "1"), svgEl("text", { x: 4, y: y(0), "font-size": 10 }, "0"));
  const bands = b.bands;
  if (bands && isNumber(bands.fake_from) && isNumber(bands.real_below)) {
    [[bands.fake_from, VERDICT_COLOUR.FAKE, `FAKE from ${fmt(bands.fake_from)}`],
     [bands.real_below, VERDICT_COLOUR.REAL, `REAL below ${fmt(bands.real_below)}`]].forEach(([v, colour, label]) => {
      svg.append(svgEl("line", { x1: pad, x2: W - pad, y1: y(v), y2: y(v), stroke: colour, "stroke-dasharray": 4 }),
                 svgEl("text", { x: W - pad - 100, y: y(v) - 3, "font-size": 10, fill: colour }, label));
    });
  }
  [...new Set(pts.map((p) => p[2]))].forEach((t, k) => {
    const colour = colours[k % colours.length], mine = pts.filter((p) => p[2] === t);
    const points = mine.map((p) => `${x(p[0])},${y(p[1])}`).join(" ");
    svg.append(svgEl("polyline", { fill: "none", stroke: colour, "stroke-width": 2, points }));
    mine.forEach((p) => svg.append(svgEl("circle", { cx: x(p[0]), cy: y(p[1]), r: 3, fill: colour })));
    svg.append(svgEl("text", { x: pad + 10 + 70 * k, y: 14, "font-size": 11, fill: colour }, `person ${Number(t) + 1}`));
  });
}
window.addEventListener("resize", () => { if (last && !last.isVideo) drawBoxes(); });
