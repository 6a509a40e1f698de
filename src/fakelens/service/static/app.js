// fakelens web page: upload a file to POST /v1/detect and draw the verdicts.
const $ = (id) => document.getElementById(id);
const drop = $("drop"), input = $("file"), keyInput = $("api-key");
const KEY_STORE = "fakelens-api-key";  // sessionStorage: gone when the tab closes, never sent to another site
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
    if (m) $("model").textContent = `${m.models[0].name} (threshold ${m.models[0].threshold.toFixed(2)}, ${m.models[0].backend})`;
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
    return setStatus(`${why}: ${body.detail || ""}`, true);
  }
  last = { body, url: URL.createObjectURL(file), isVideo: body.media === "video" };
  show();
}

// The verdict admits doubt: REAL, UNCERTAIN (amber: not enough evidence either way) or FAKE.
const VERDICT_COLOUR = { FAKE: "#c5221f", UNCERTAIN: "#b06000", REAL: "#137333" };
function verdictColour(label) {
  return VERDICT_COLOUR[label] || VERDICT_COLOUR.REAL;
}

function verdictText(label, p) {
  return `<span class="${(label || "real").toLowerCase()}">${label}</span> (P(fake) ${(100 * p).toFixed(1)}%)`;
}

function show() {
  const b = last.body;
  $("raw").textContent = JSON.stringify(b, (k, v) => (typeof v === "string" && v.startsWith("data:image") ? "<image>" : v), 2);
  $("result").hidden = false;
  if (b.status === "no_face") {
    setStatus("");
    $("verdict").innerHTML = "No face found: nothing to judge.";
  } else if (last.isVideo) {
    setStatus(`Video: ${b.n_frames_sampled} frames sampled, ${b.n_tracks} person(s).`);
    $("verdict").innerHTML = "Video verdict: " + verdictText(b.video_label, b.video_prob);
  } else {
    setStatus(`${b.n_faces} face(s) found${b.kind === "crop" ? " (the image is a face crop)" : ""}.`);
    $("verdict").innerHTML = "Image verdict: " + verdictText(b.image_label, b.image_prob);
  }
  if ((b.warnings || []).length) setStatus(`${$("status").textContent} Note: ${b.warnings.join("; ")}.`.trim());
  $("stage").hidden = last.isVideo;
  $("plot").hidden = !last.isVideo || b.status !== "ok";
  if (!last.isVideo) {
    const img = $("photo");
    img.onload = drawBoxes;
    img.src = last.url;
  } else if (b.status === "ok") {
    drawChart(b);
  }
  $("toggles").hidden = !(b.faces || []).some((f) => f.explanation);
  renderFaces();
}

function drawBoxes() {
  const img = $("photo"), canvas = $("boxes"), b = last.body;
  canvas.width = img.clientWidth; canvas.height = img.clientHeight;
  const sx = img.clientWidth / img.naturalWidth, sy = img.clientHeight / img.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.lineWidth = 3; ctx.font = "bold 14px system-ui";
  (b.faces || []).forEach((f, i) => {
    const [x0, y0, x1, y1] = f.box;
    const colour = verdictColour(f.label);
    ctx.strokeStyle = colour; ctx.fillStyle = colour;
    ctx.strokeRect(x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy);
    ctx.fillText(`#${i + 1} ${f.label} ${(100 * f.prob_fake).toFixed(0)}%`, x0 * sx + 3, Math.max(14, y0 * sy - 5));
  });
}

function renderFaces() {
  const list = $("faces");
  list.innerHTML = "";
  if (!last) return;
  const b = last.body;
  const mode = document.querySelector("input[name=overlay]:checked").value;
  const items = last.isVideo ? (b.tracks || []).map((t) => ({ ...t, title: `Person ${t.track + 1} (${t.n_faces} frames)` }))
                             : (b.faces || []).map((f, i) => ({ ...f, title: `Face ${i + 1}` }));
  items.forEach((f) => {
    const li = document.createElement("li");
    li.className = f.label;
    const e = f.explanation;
    const src = e && mode === "gradcam" ? e.gradcam_overlay : e && mode === "lime" ? e.lime_overlay : null;
    const p = f.prob_fake;
    li.innerHTML = `${src ? `<img class="face" alt="${mode} overlay" src="${src}">` : ""}
      <div><strong>${f.title}</strong>: ${verdictText(f.label, p)}
      <div class="bar" title="P(fake)"><span></span></div></div>`;
    // set through the DOM: the Content-Security-Policy refuses inline style attributes
    const bar = li.querySelector(".bar span");
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    bar.style.background = verdictColour(f.label);
    list.appendChild(li);
  });
}

function drawChart(b) {
  const svg = $("chart"), W = 600, H = 220, pad = 30;
  const pts = [];
  b.frames.forEach((fr, i) => fr.faces.forEach((f) => pts.push([i, f.prob_fake, f.track])));
  const n = Math.max(1, b.frames.length - 1);
  const x = (i) => pad + (i / n) * (W - 2 * pad), y = (p) => H - pad - p * (H - 2 * pad);
  const colours = ["#1a73e8", "#e37400", "#9334e6", "#188038", "#d93025"];
  let html = `<line x1="${pad}" y1="${y(0)}" x2="${W - pad}" y2="${y(0)}" stroke="#999"/>
    <line x1="${pad}" y1="${y(1)}" x2="${pad}" y2="${y(0)}" stroke="#999"/>
    <text x="4" y="${y(1) + 4}" font-size="10">1</text><text x="4" y="${y(0)}" font-size="10">0</text>`;
  const thr = (b.tracks[0] && b.threshold) || null;
  const tracks = [...new Set(pts.map((p) => p[2]))];
  tracks.forEach((t, k) => {
    const line = pts.filter((p) => p[2] === t).map((p) => `${x(p[0])},${y(p[1])}`).join(" ");
    html += `<polyline fill="none" stroke="${colours[k % colours.length]}" stroke-width="2" points="${line}"/>`;
    pts.filter((p) => p[2] === t).forEach((p) => { html += `<circle cx="${x(p[0])}" cy="${y(p[1])}" r="3" fill="${colours[k % colours.length]}"/>`; });
  });
  if (thr) html += `<line x1="${pad}" x2="${W - pad}" y1="${y(thr)}" y2="${y(thr)}" stroke="#c5221f" stroke-dasharray="4"/>`;
  svg.innerHTML = html;
}
window.addEventListener("resize", () => { if (last && !last.isVideo) drawBoxes(); });
