// texnet in the browser: sample textures and stylize photos with exported generators (onnxruntime-web, WASM).
// The noise comes from noise.js, the same algorithm as texnet/noise.py: a seed gives the same texture here,
// in `texnet sample --seed` and in the torch-free runtime.
"use strict";

const MAX_SIDE = 2048; // textures: largest width or height offered
const STYLE_CAP = 1024; // photos above this longer side are scaled down (with a notice)

const $ = (id) => document.getElementById(id);
const state = { models: [], sessions: new Map(), model: null, last: null, photo: null };

function setBusy(busy) {
  document.body.dataset.state = busy ? "busy" : "ready";
  for (const id of ["render", "new-sample", "stylize", "download"]) {
    const el = $(id);
    if (busy) el.disabled = true;
  }
  if (!busy) {
    $("render").disabled = $("new-sample").disabled = false;
    $("stylize").disabled = !state.photo;
    $("download").disabled = !state.last;
  }
}

function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

window.addEventListener("error", (e) => showMessage(`Error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showMessage(`Error: ${e.reason && e.reason.message || e.reason}`));

async function session(model) {
  if (!state.sessions.has(model.file)) {
    try {
      state.sessions.set(model.file, await ort.InferenceSession.create(`models/${model.file}`,
        { executionProviders: ["wasm"], graphOptimizationLevel: "all" }));
    } catch (err) {
      throw new Error(`the model ${model.name} could not be loaded (${err.message || err})`);
    }
  }
  return state.sessions.get(model.file);
}

// ---------------------------------------------------------------- pixels

function toPixels(data, width, height) {
  // CHW floats in [0, 1] -> RGBA bytes, rounded as texnet's Python code does: floor(v * 255 + 0.5)
  const px = new Uint8ClampedArray(width * height * 4);
  const plane = width * height;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.min(1, Math.max(0, data[c * plane + i]));
      px[4 * i + c] = Math.floor(v * 255 + 0.5);
    }
    px[4 * i + 3] = 255;
  }
  return new ImageData(px, width, height);
}

function draw() {
  const canvas = $("canvas");
  const img = state.last;
  if (!img) return;
  const tiled = state.model.kind === "texture" && $("tile").checked;
  const n = tiled ? 2 : 1;
  canvas.width = img.width * n;
  canvas.height = img.height * n;
  const ctx = canvas.getContext("2d");
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) ctx.putImageData(img, x * img.width, y * img.height);
}

// ---------------------------------------------------------------- textures

function readSize(id) {
  const value = Number($(id).value);
  const least = Math.max(16, state.model.min_side || 16);  // the coarsest noise scale needs 2 px (models.json)
  if (!Number.isInteger(value) || value < least || value > MAX_SIDE) {
    throw new Error(`${id} must be a whole number from ${least} to ${MAX_SIDE}`);
  }
  return value;
}

async function renderTexture(seed) {
  const model = state.model;
  const width = readSize("width"), height = readSize("height");
  const sess = await session(model);
  const start = performance.now();
  const noise = noisePyramid(seed, height, width, model.scales, model.noise_channels, 1);
  const feeds = {};
  noise.forEach((z, s) => { feeds[`z${s}`] = new ort.Tensor("float32", z.data, z.dims); });
  const out = await sess.run(feeds);
  const ms = performance.now() - start;
  state.last = toPixels(out.image.data, width, height);
  state.lastMs = ms;
  draw();
  $("timing").textContent = `${width}x${height} sample, seed ${seed}: ${ms.toFixed(0)} ms (noise and network, WASM)`;
}

// ---------------------------------------------------------------- stylization

async function loadPhoto(file) {
  if (!file || !file.type.startsWith("image/")) {
    throw new Error(`${file ? file.name : "this"} is not an image file`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (err) {
    throw new Error(`${file.name} could not be read as an image`);
  }
  const scale = Math.min(1, STYLE_CAP / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale)), height = Math.max(1, Math.round(bitmap.height * scale));
  const notice = $("cap-notice");
  notice.hidden = scale === 1;
  notice.textContent = scale === 1 ? "" :
    `The photo is ${bitmap.width}x${bitmap.height}; the page stylizes it at ${width}x${height} ` +
    `(the command line handles any size in tiles).`;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const plane = width * height;
  const chw = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) chw[c * plane + i] = rgba[4 * i + c] / 255;
  state.photo = { data: chw, width, height, name: file.name };
  $("stylize").disabled = false;
  state.last = toPixels(chw, width, height);
  draw();
}

function preserveColor(out, content, plane) {
  // luminance from the stylized image, chroma from the photo (YCbCr), as texnet/stylizer.py does
  const res = new Float32Array(out.length);
  for (let i = 0; i < plane; i++) {
    const [r, g, b] = [out[i], out[plane + i], out[2 * plane + i]];
    const [cr0, cg0, cb0] = [content[i], content[plane + i], content[2 * plane + i]];
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    const y0 = 0.299 * cr0 + 0.587 * cg0 + 0.114 * cb0;
    const cb = (cb0 - y0) * 0.564, cr = (cr0 - y0) * 0.713;
    const rr = y + 1.403 * cr, bb = y + 1.773 * cb;
    const gg = (y - 0.299 * rr - 0.114 * bb) / 0.587;
    res[i] = Math.min(1, Math.max(0, rr));
    res[plane + i] = Math.min(1, Math.max(0, gg));
    res[2 * plane + i] = Math.min(1, Math.max(0, bb));
  }
  return res;
}

async function stylize() {
  const model = state.model, photo = state.photo;
  if (!photo) throw new Error("choose a photo first");
  const sess = await session(model);
  const start = performance.now();
  const amplitude = Number($("noise-scale").value);
  const seed = Number($("style-seed").value) | 0;
  const noise = noisePyramid(seed, photo.height, photo.width, model.scales, model.noise_channels, amplitude);
  const feeds = { content: new ort.Tensor("float32", photo.data, [1, 3, photo.height, photo.width]) };
  noise.forEach((z, s) => { feeds[`z${s}`] = new ort.Tensor("float32", z.data, z.dims); });
  if (model.stats_size > 0) {
    feeds.stats = new ort.Tensor("float32", new Float32Array(model.stats_size), [1, model.stats_size]);
    feeds.use_stats = new ort.Tensor("float32", new Float32Array([0]), [1]);
  }
  const out = await sess.run(feeds, ["image"]);
  let data = out.image.data;
  if ($("preserve").checked) data = preserveColor(data, photo.data, photo.width * photo.height);
  const ms = performance.now() - start;
  state.last = toPixels(data, photo.width, photo.height);
  draw();
  $("timing").textContent = `${photo.width}x${photo.height} stylized in ${ms.toFixed(0)} ms (WASM)`;
}

// ---------------------------------------------------------------- wiring

async function guarded(fn) {
  showMessage("");
  setBusy(true);
  try {
    await fn();
  } catch (err) {
    showMessage(err.message || String(err));
  } finally {
    setBusy(false);
  }
}

function selectModel(index) {
  state.model = state.models[index];
  const m = state.model;
  $("texture-controls").hidden = m.kind !== "texture";
  $("style-controls").hidden = m.kind !== "style";
  $("model-info").textContent = `${m.kind} model, ${m.scales} noise scales` + (m.source ? `, from ${m.source}` : "");
  state.last = null;
  return m.kind === "texture" ? guarded(() => renderTexture(Number($("seed").value) | 0)) : Promise.resolve();
}

async function main() {
  document.body.dataset.state = "loading";
  ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  let manifest;
  try {
    const response = await fetch("models.json");
    if (!response.ok) throw new Error(`models.json: HTTP ${response.status}`);
    manifest = await response.json();
  } catch (err) {
    showMessage(`The model list could not be loaded (${err.message}). Serve this folder with ` +
                "`texnet web ... --serve`: browsers do not load models from file:// pages.");
    document.body.dataset.state = "ready";
    return;
  }
  state.models = manifest.models;
  const select = $("model");
  state.models.forEach((m, i) => select.add(new Option(`${m.name} (${m.kind})`, String(i))));
  select.addEventListener("change", () => selectModel(Number(select.value)));
  $("render").addEventListener("click", () => guarded(() => renderTexture(Number($("seed").value) | 0)));
  $("new-sample").addEventListener("click", () => {
    $("seed").value = String(Math.floor(Math.random() * 2147483647));
    return guarded(() => renderTexture(Number($("seed").value) | 0));
  });
  $("tile").addEventListener("change", draw);
  $("photo").addEventListener("change", (e) => guarded(() => loadPhoto(e.target.files[0])));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    return guarded(() => loadPhoto(e.dataTransfer.files[0]));
  });
  $("noise-scale").addEventListener("input", () => {
    $("noise-scale-value").textContent = Number($("noise-scale").value).toFixed(1);
  });
  $("stylize").addEventListener("click", () => guarded(stylize));
  $("download").addEventListener("click", () => {
    $("canvas").toBlob((blob) => {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = `texnet-${state.model.name}.png`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    }, "image/png");
  });
  if (!state.models.length) {
    showMessage("This site has no models.");
    document.body.dataset.state = "ready";
    return;
  }
  await selectModel(0);
  document.body.dataset.state = "ready";
}

main();
