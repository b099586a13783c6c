// The page: photo in, colour photo out, all in this browser (onnxruntime-web: WebGPU when there is one, else WASM).
// The numerics live in pipeline.js; this file wires the controls, the two ONNX sessions and the caches.
//
// URL parameters (for benchmarks and tests; a visitor needs none): backend=wasm|webgpu, threads=N.

import * as ort from "./ort/ort.webgpu.min.mjs";
import { areaResize, globalResize, greyscale, luminance, mixPriors, upsampleCompose, workingShape } from "./pipeline.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const tick = () => new Promise((resolve) => setTimeout(resolve, 0)); // let the progress bar repaint

const app = {
  model: null, // model.json
  global: null, // InferenceSession
  local: null,
  backend: "",
  photo: null, // {name, width, height, rgba, L, fusion}
  refs: [], // {id, name, fusion, weight}
  abCache: null, // {key, ab, h, w}
  running: false,
  pending: false,
  runs: 0,
  readyMs: null,
  last: null,
};
window.colornetApp = app; // for the browser tests and the curious

function setState(state, message) {
  document.body.dataset.state = state;
  if (message !== undefined) $("status").textContent = message;
}

function setProgress(fraction, message) {
  $("progress").value = fraction;
  if (message) $("status").textContent = message;
}

async function fetchBytes(url, onChunk) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    onChunk(value.length);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) { bytes.set(chunk, offset); offset += chunk.length; }
  return bytes;
}

async function pickBackend() {
  const wanted = params.get("backend");
  if (wanted === "wasm") return "wasm";
  if (navigator.gpu) {
    try {
      if (await navigator.gpu.requestAdapter()) return "webgpu";
    } catch (err) { /* no usable adapter: WASM */ }
  }
  if (wanted === "webgpu") throw new Error("WebGPU was asked for (backend=webgpu) but this browser has no adapter");
  return "wasm";
}

async function createSessions(bytes, backend) {
  const options = { executionProviders: [backend], graphOptimizationLevel: "all" };
  return [await ort.InferenceSession.create(bytes.global, options),
          await ort.InferenceSession.create(bytes.local, options)];
}

async function useBackend(backend) {
  [app.global, app.local] = await createSessions(app.bytes, backend);
  app.backendKind = backend;
  app.backend = backend === "webgpu" ? "WebGPU" : `WASM, ${app.threads} thread${app.threads > 1 ? "s" : ""}`;
  $("backend").textContent = app.backend;
  $("footer-backend").textContent = app.backend;
}

async function init() {
  setState("loading", "Loading the model…");
  const model = await (await fetch("model/model.json")).json();
  app.model = model;
  ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
  const threads = params.has("threads") ? Number(params.get("threads"))
    : (self.crossOriginIsolated ? Math.min(navigator.hardwareConcurrency || 1, 4) : 1);
  ort.env.wasm.numThreads = threads;
  const files = model.files;
  const total = Object.values(files).reduce((a, f) => a + f.size, 0);
  let loaded = 0;
  const bytes = {};
  for (const name of ["global", "local"]) {
    const file = model.graphs[name].file;
    bytes[name] = await fetchBytes(`model/${file}`, (n) => {
      loaded += n;
      setProgress(0.8 * loaded / total, `Downloading the model from this machine's server… ${(loaded / 1e6).toFixed(1)} / ${(total / 1e6).toFixed(1)} MB`);
    });
  }
  setProgress(0.85, "Starting the network…");
  app.bytes = bytes;
  app.threads = threads;
  const backend = await pickBackend();
  try {
    await useBackend(backend);
  } catch (err) {
    if (backend === "wasm") throw err;
    console.warn("WebGPU session failed, using WASM:", err);
    await useBackend("wasm");
  }
  const distribution = model.head === "distribution";
  const viv = $("vividness");
  viv.value = distribution ? model.defaults.vividness : 0;
  viv.disabled = !distribution;
  $("strength").value = model.defaults.strength;
  updateLabels();
  $("model-info").textContent = `Model ${model.name} · ${(total / 1e6).toFixed(1)} MB · checkpoint ${String(model.checkpoint_sha256).slice(0, 12)}`
    + (distribution ? "" : " · regression head (no vividness)");
  app.readyMs = performance.now();
  setProgress(1, `Ready (${(app.readyMs / 1000).toFixed(1)} s). Open a photo.`);
  setState("ready");
}

// --- inputs -----------------------------------------------------------------------------------------------------

async function decode(file) {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none",
                                                  imageOrientation: "from-image" });
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  return { width, height, rgba };
}

async function globalFusion(L, width, height) {
  const size = app.model.global_size;
  const small = globalResize(L, height, width, size);
  const out = await app.global.run({ l_global: new ort.Tensor("float32", small, [1, 1, size, size]) });
  return new Float32Array(out.fusion.data);
}

let refCounter = 0;
async function addReference(file) {
  const image = await decode(file);
  const L = luminance(image.rgba, image.width, image.height);
  const ref = { id: ++refCounter, name: file.name, fusion: await globalFusion(L, image.width, image.height), weight: 1 };
  app.refs.push(ref);
  const li = document.createElement("li");
  li.dataset.ref = ref.id;
  const thumb = document.createElement("img");
  thumb.src = URL.createObjectURL(file);
  thumb.alt = "";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = file.name;
  name.title = file.name;
  const weight = document.createElement("input");
  weight.type = "number"; weight.min = "0"; weight.step = "0.1"; weight.value = "1";
  weight.title = "weight of this reference in the mix";
  weight.addEventListener("change", () => {
    const value = Number(weight.value);
    ref.weight = Number.isFinite(value) && value >= 0 ? value : 0;
    request();
  });
  const remove = document.createElement("button");
  remove.type = "button"; remove.textContent = "×"; remove.title = "remove this reference";
  remove.addEventListener("click", () => {
    app.refs = app.refs.filter((r) => r !== ref);
    li.remove();
    request();
  });
  li.append(thumb, name, weight, remove);
  $("reference-list").append(li);
}

async function openPhoto(file) {
  const started = performance.now();
  setState("busy");
  setProgress(0.05, `Reading ${file.name}…`);
  await tick();
  const image = await decode(file);
  app.photo = { name: file.name, ...image, L: null, fusion: null, opened: started };
  app.abCache = null;
  for (const id of ["result", "before"]) {
    $(id).width = image.width;
    $(id).height = image.height;
  }
  // "before" is what the network sees: the photo's L alone (a colour photo shows as grey)
  app.photo.L = luminance(image.rgba, image.width, image.height);
  const grey = new ImageData(image.width, image.height);
  greyscale(app.photo.L, grey.data, image.rgba);
  $("before").getContext("2d").putImageData(grey, 0, 0);
  $("compare").hidden = false;
  $("placeholder").hidden = true;
  fitView();
  await request();
}

/** Show the photo as large as the viewer allows (small photos scaled up, large ones down); pixels stay full size. */
function fitView() {
  if (!app.photo) return;
  const box = document.querySelector(".viewer").getBoundingClientRect();
  const maxW = Math.max(200, box.width), maxH = Math.max(200, window.innerHeight * 0.78);
  const scale = Math.min(maxW / app.photo.width, maxH / app.photo.height);
  $("result").style.width = `${Math.round(app.photo.width * scale)}px`;
  $("result").style.height = `${Math.round(app.photo.height * scale)}px`;
}
window.addEventListener("resize", fitView);

// --- the run --------------------------------------------------------------------------------------------------

function priorKey() {
  const active = app.refs.filter((r) => r.weight > 0);
  return active.length ? active.map((r) => `${r.id}:${r.weight}`).join(",") : "own";
}

async function colorize() {
  const photo = app.photo;
  const model = app.model;
  const t = { start: performance.now() };
  const { width, height } = photo;
  if (!photo.L) {
    setProgress(0.1, "Lightness…");
    await tick();
    photo.L = luminance(photo.rgba, width, height);
  }
  t.lightness = performance.now();
  const active = app.refs.filter((r) => r.weight > 0);
  let fusion;
  if (active.length) {
    fusion = mixPriors(active.map((r) => r.fusion), active.map((r) => r.weight));
  } else {
    if (!photo.fusion) {
      setProgress(0.2, "Global prior (the whole scene)…");
      await tick();
      photo.fusion = await globalFusion(photo.L, width, height);
    }
    fusion = photo.fusion;
  }
  t.prior = performance.now();
  const distribution = model.head === "distribution";
  const vividness = distribution ? Number($("vividness").value) : null;
  const key = `${priorKey()}|${vividness}`;
  if (!app.abCache || app.abCache.key !== key) {
    const [h, w] = workingShape(height, width, model.defaults.working_size);
    setProgress(0.35, `Colour network at ${w}×${h} px on ${app.backend}…`);
    await tick();
    const lWork = areaResize(photo.L, height, width, h, w);
    const feeds = {
      l_work: new ort.Tensor("float32", lWork, [1, 1, h, w]),
      fusion: new ort.Tensor("float32", fusion, [1, fusion.length]),
    };
    if (distribution) feeds.vividness = new ort.Tensor("float32", new Float32Array([vividness]), [1]);
    const out = await app.local.run(feeds);
    const [, , abH, abW] = out.ab.dims;
    app.abCache = { key, ab: new Float32Array(out.ab.data), h: abH, w: abW };
  }
  t.network = performance.now();
  setProgress(0.85, `Full resolution (${width}×${height}), guided by the photo's own lightness…`);
  await tick();
  const strength = Number($("strength").value);
  const { ab, h, w } = app.abCache;
  const image = new ImageData(width, height);
  upsampleCompose(photo.L, height, width, ab, h, w, {
    strength, radius: model.upsample.radius, eps: model.upsample.eps, out: image.data, alphaFrom: photo.rgba,
  });
  $("result").getContext("2d").putImageData(image, 0, 0);
  t.compose = performance.now();
  const ms = (a, b) => Math.round(t[b] - t[a]);
  app.runs += 1;
  app.last = {
    width, height, backend: app.backend, run: app.runs,
    ms: { lightness: ms("start", "lightness"), prior: ms("lightness", "prior"), network: ms("prior", "network"),
          full_resolution: ms("network", "compose"), total: ms("start", "compose"),
          since_opened: Math.round(t.compose - photo.opened) },
  };
  $("timing").textContent = `${width}×${height}: ${(app.last.ms.total / 1000).toFixed(2)} s (network ${app.last.ms.network} ms, full resolution ${app.last.ms.full_resolution} ms)`;
  $("download").disabled = false;
  setProgress(1, `Done: ${photo.name}. Drag the slider on the picture to compare; download keeps the full size.`);
}

async function request() {
  if (!app.photo || !app.local) return;
  if (app.running) { app.pending = true; return; }
  app.running = true;
  setState("busy");
  try {
    do {
      app.pending = false;
      try {
        await colorize();
      } catch (err) {
        if (app.backendKind !== "webgpu") throw err;
        console.warn("WebGPU run failed, switching to WASM:", err); // e.g. a lost device or an out-of-memory GPU
        setProgress(0.3, "WebGPU failed; continuing on WASM…");
        await useBackend("wasm");
        app.abCache = null;
        await colorize();
      }
    } while (app.pending);
    document.body.dataset.runs = String(app.runs);
    setState("done");
  } catch (err) {
    console.error(err);
    setState("error", `Something went wrong: ${err.message || err}`);
  } finally {
    app.running = false;
  }
}

// --- controls ---------------------------------------------------------------------------------------------------

function updateLabels() {
  $("vividness-value").textContent = $("vividness").disabled ? "n/a" : Number($("vividness").value).toFixed(2);
  $("strength-value").textContent = Number($("strength").value).toFixed(2);
}

function guard(promise) {
  promise.catch((err) => { console.error(err); setState("error", `Could not read that image: ${err.message || err}`); });
}

$("photo").addEventListener("change", (e) => {
  const file = e.target.files[0];
  e.target.value = ""; // choosing the same file again must open it again
  if (file) guard(openPhoto(file));
});
$("references").addEventListener("change", (e) => {
  const files = [...e.target.files];
  guard((async () => {
    setState("busy", "Reading the reference photos…");
    for (const f of files) await addReference(f);
    e.target.value = "";
    if (app.photo) await request(); else setState("ready", "References ready. Open a photo.");
  })());
});
for (const id of ["vividness", "strength"]) {
  $(id).addEventListener("input", updateLabels);
  $(id).addEventListener("change", () => request());
}
$("split").addEventListener("input", (e) => {
  $("before").style.clipPath = `inset(0 ${(100 * (1 - e.target.value)).toFixed(1)}% 0 0)`;
  $("divider").style.left = `${(100 * e.target.value).toFixed(1)}%`;
});
$("download").addEventListener("click", () => {
  const base = (app.photo?.name || "photo").replace(/\.[^.]*$/, "");
  $("result").toBlob((blob) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${base}_colorized.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }, "image/png");
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/"));
  if (file) guard(openPhoto(file));
});
drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("photo").click(); });

init().catch((err) => {
  console.error(err);
  setState("error", `The model did not load: ${err.message || err}`);
});
