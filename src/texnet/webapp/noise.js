// Portable noise: the same values as texnet/noise.py (see its docstring for the definition).
// All arithmetic is on unsigned 32-bit integers: Math.imul multiplies modulo 2^32, >>> 0 keeps them unsigned.
"use strict";

const GOLDEN = 0x9e3779b9;
const C2 = 0x85ebca6b;

function mix(h) {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

// (channels x height x width) float32 noise in [0, 1) for one scale of one sample.
function uniformNoise(seed, scale, channels, height, width, out, offset) {
  const base = mix(((seed >>> 0) ^ GOLDEN) >>> 0);
  const xs = new Uint32Array(width);
  for (let x = 0; x < width; x++) xs[x] = Math.imul(x, C2) >>> 0;
  const unit = 1 / 16777216;
  let k = offset;
  for (let c = 0; c < channels; c++) {
    const key = mix((base + (Math.imul(scale * 16 + c, C2) >>> 0)) >>> 0);
    for (let y = 0; y < height; y++) {
      const row = mix((key + (Math.imul(y, GOLDEN) >>> 0)) >>> 0);
      for (let x = 0; x < width; x++) out[k++] = (mix((row ^ xs[x]) >>> 0) >>> 8) * unit;
    }
  }
}

// The generator's inputs: one Float32Array (batch 1) per scale, finest first, with their dims.
function noisePyramid(seed, height, width, scales, channels, amplitude) {
  const out = [];
  for (let s = 0; s < scales; s++) {
    const h = Math.ceil(height / 2 ** s), w = Math.ceil(width / 2 ** s);
    const data = new Float32Array(channels * h * w);
    uniformNoise(seed, s, channels, h, w, data, 0);
    if (amplitude !== 1) for (let i = 0; i < data.length; i++) data[i] *= amplitude;
    out.push({ data, dims: [1, channels, h, w] });
  }
  return out;
}

if (typeof module !== "undefined") module.exports = { mix, uniformNoise, noisePyramid };
