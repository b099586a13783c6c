// ColorNet in the page: everything around the two ONNX graphs, written to match the Python library step by step.
//
// Python counterparts (read them side by side):
//   luminance        colornet/fastlab.py luminance (sRGB -> L*, the constants of colornet/lab.py)
//   workingShape     colornet/pipeline.py working_shape (Python's round: half to even)
//   areaResize       torch F.interpolate(mode="area") = adaptive average pooling
//   globalResize     colornet/model.py resize_for_global (bilinear, antialias=True: torch's separable AA filter)
//   mixPriors        colornet/prior.py mix_priors
//   upsampleCompose  colornet/upsample.py ABUpsampler (guided detail transfer) + colornet/fastlab.py compose_into
// No DOM here: plain typed arrays in and out, so the page (app.js) and any other host can use it.

const XYZ_FROM_RGB = [
  [0.412453, 0.357580, 0.180423],
  [0.212671, 0.715160, 0.072169],
  [0.019334, 0.119193, 0.950227],
];
const WHITE_D65 = [0.95047, 1.0, 1.08883];
const EPSILON = 0.008856;
const KAPPA = 7.787;
const DELTA = 16.0 / 116.0;
const F_THRESHOLD = 0.2068966;
const SRGB_KNEE = 0.04045;
const LINEAR_KNEE = 0.0031308;

function invert3(m) {
  const [a, b, c] = m[0], [d, e, f] = m[1], [g, h, i] = m[2];
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

// XYZ -> linear RGB with the white point folded in (fastlab._rgb_from_t_matrix)
const RGB_FROM_T = invert3(XYZ_FROM_RGB).map((row) => row.map((v, j) => v * WHITE_D65[j]));

// 8-bit sRGB -> linear, one table (fastlab._linear_rgb on x / 255)
const LINEAR_LUT = new Float32Array(256);
for (let v = 0; v < 256; v++) {
  const x = Math.fround(v / 255);
  LINEAR_LUT[v] = x > SRGB_KNEE ? Math.pow(Math.max((x + 0.055) / 1.055, 1e-12), 2.4) : x / 12.92;
}

function labF(t) {
  return t > EPSILON ? Math.cbrt(Math.max(t, EPSILON)) : KAPPA * t + DELTA;
}

/** L* (0..100) of RGBA bytes, Float32Array of width*height. */
export function luminance(rgba, width, height) {
  const n = width * height;
  const out = new Float32Array(n);
  const [ry, gy, by] = XYZ_FROM_RGB[1]; // white Y is 1
  for (let p = 0, q = 0; p < n; p++, q += 4) {
    const y = ry * LINEAR_LUT[rgba[q]] + gy * LINEAR_LUT[rgba[q + 1]] + by * LINEAR_LUT[rgba[q + 2]];
    out[p] = 116.0 * labF(y) - 16.0;
  }
  return out;
}

/** Python's round(): half to even. */
function pyRound(x) {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** Size the network runs at: scaled down (never up) so the longer side is workingSize (0 = full size). */
export function workingShape(height, width, workingSize) {
  if (!workingSize || Math.max(height, width) <= workingSize) return [height, width];
  const scale = workingSize / Math.max(height, width);
  return [Math.max(1, pyRound(height * scale)), Math.max(1, pyRound(width * scale))];
}

/** a*b* rows/cols of the local graph's output for an input side n (colornet.tiling.half_size). */
export function halfSize(n) {
  return 4 * Math.ceil(n / 8);
}

// --- resizing -------------------------------------------------------------------------------------------------

/** One axis of adaptive average pooling: for output i, the input span [floor(i*n/m), ceil((i+1)*n/m)). */
function areaTaps(n, m) {
  const starts = new Int32Array(m), ends = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    starts[i] = Math.floor((i * n) / m);
    ends[i] = Math.ceil(((i + 1) * n) / m);
  }
  return { starts, ends };
}

/** torch F.interpolate(x, size=(h, w), mode="area") of one channel (separable: the windows are rectangles). */
export function areaResize(src, height, width, h, w) {
  if (h === height && w === width) return src;
  const cols = areaTaps(width, w), rows = areaTaps(height, h);
  const tmp = new Float64Array(height * w);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < w; x++) {
      let s = 0;
      const a = cols.starts[x], b = cols.ends[x];
      for (let k = a; k < b; k++) s += src[base + k];
      tmp[y * w + x] = s / (b - a);
    }
  }
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const a = rows.starts[y], b = rows.ends[y];
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = a; k < b; k++) s += tmp[k * w + x];
      out[y * w + x] = s / (b - a);
    }
  }
  return out;
}

/** Taps of torch's antialiased bilinear resize along one axis (aten UpSampleKernel, _compute_index_ranges_weights). */
function antialiasTaps(n, m) {
  const scale = n / m;
  const support = scale >= 1 ? scale : 1.0;
  const invscale = scale >= 1 ? 1.0 / scale : 1.0;
  const taps = [];
  for (let i = 0; i < m; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xsize = Math.min(Math.trunc(center + support + 0.5), n) - xmin;
    const weights = new Float64Array(xsize);
    let total = 0;
    for (let j = 0; j < xsize; j++) {
      const t = Math.abs((j + xmin - center + 0.5) * invscale);
      const wgt = t < 1 ? 1 - t : 0;
      weights[j] = wgt;
      total += wgt;
    }
    if (total !== 0) for (let j = 0; j < xsize; j++) weights[j] /= total;
    taps.push({ start: xmin, weights });
  }
  return taps;
}

/** L at the global size: resize_for_global (one antialiased bilinear resize, width first as torch does). */
export function globalResize(src, height, width, size) {
  if (height === size && width === size) return src;
  const cols = antialiasTaps(width, size), rows = antialiasTaps(height, size);
  const tmp = new Float32Array(height * size);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let x = 0; x < size; x++) {
      const { start, weights } = cols[x];
      let s = 0;
      for (let j = 0; j < weights.length; j++) s += weights[j] * src[base + start + j];
      tmp[y * size + x] = s;
    }
  }
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const { start, weights } = rows[y];
    for (let x = 0; x < size; x++) {
      let s = 0;
      for (let j = 0; j < weights.length; j++) s += weights[j] * tmp[(start + j) * size + x];
      out[y * size + x] = s;
    }
  }
  return out;
}

// --- priors ---------------------------------------------------------------------------------------------------

/** mix_priors on fusion vectors: weights >= 0 normalised to sum 1; a single non-zero weight returns that vector. */
export function mixPriors(vectors, weights) {
  if (!vectors.length) throw new Error("mixPriors needs at least one prior");
  weights = weights || vectors.map(() => 1);
  if (weights.length !== vectors.length) throw new Error("one weight per prior");
  if (weights.some((w) => !Number.isFinite(w) || w < 0)) throw new Error("prior weights must be finite and >= 0");
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new Error("at least one prior weight must be > 0");
  const nonzero = weights.map((w, i) => (w > 0 ? i : -1)).filter((i) => i >= 0);
  if (nonzero.length === 1) return vectors[nonzero[0]];
  const out = new Float32Array(vectors[0].length);
  for (let d = 0; d < out.length; d++) {
    let s = 0;
    for (let i = 0; i < vectors.length; i++) s += Math.fround(weights[i] / total) * vectors[i][d];
    out[d] = s;
  }
  return out;
}

// --- guided upsampling and Lab -> sRGB --------------------------------------------------------------------------

/** Clipped-window mean over (2r+1)^2 (colornet.upsample.box_filter), one channel h x w. */
function boxFilter(src, h, w, r) {
  const tmp = new Float64Array(h * w), out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const a = Math.max(0, x - r), b = Math.min(w - 1, x + r);
      let s = 0;
      for (let k = a; k <= b; k++) s += src[y * w + k];
      tmp[y * w + x] = s / (b - a + 1);
    }
  }
  for (let y = 0; y < h; y++) {
    const a = Math.max(0, y - r), b = Math.min(h - 1, y + r);
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = a; k <= b; k++) s += tmp[k * w + x];
      out[y * w + x] = s / (b - a + 1);
    }
  }
  return out;
}

/** Bilinear taps (align_corners=False, PyTorch's rule) from n source to m destination positions. */
function bilinearTaps(n, m) {
  const i0 = new Int32Array(m), i1 = new Int32Array(m), frac = new Float32Array(m);
  const scale = n / m;
  for (let i = 0; i < m; i++) {
    const pos = Math.max((i + 0.5) * scale - 0.5, 0);
    const a = Math.min(Math.floor(pos), n - 1);
    i0[i] = a;
    i1[i] = Math.min(a + 1, n - 1);
    frac[i] = pos - a;
  }
  return { i0, i1, frac };
}

/**
 * Full-resolution L + low-resolution ab -> RGBA bytes (alpha 255, or copied from `alphaFrom`).
 * guided (ABUpsampler): ab = up(ab_half) + up(A) * (L - up(L_low)), A the guided filter's slope of ab against L
 * in 3x3 low-resolution windows; then ab * strength and Lab -> sRGB (compose_into), rounded to 8 bits.
 */
export function upsampleCompose(lFull, height, width, abHalf, h, w, { strength = 1.0, radius = 1, eps = 1e-2,
                                                                     out = null, alphaFrom = null } = {}) {
  const n = h * w;
  const a0 = abHalf.subarray(0, n), b0 = abHalf.subarray(n, 2 * n);
  const guided = !(h === height && w === width);
  let channels;
  if (guided) {
    const lLow = areaResize(lFull, height, width, h, w);
    const I = new Float32Array(n), II = new Float32Array(n), IA = new Float32Array(n), IB = new Float32Array(n);
    for (let p = 0; p < n; p++) {
      const g = lLow[p] / 100.0;
      I[p] = g; II[p] = g * g; IA[p] = g * a0[p]; IB[p] = g * b0[p];
    }
    const mI = boxFilter(I, h, w, radius), mII = boxFilter(II, h, w, radius);
    const mA = boxFilter(a0, h, w, radius), mB = boxFilter(b0, h, w, radius);
    const mIA = boxFilter(IA, h, w, radius), mIB = boxFilter(IB, h, w, radius);
    const slopeA = new Float32Array(n), slopeB = new Float32Array(n);
    for (let p = 0; p < n; p++) {
      const v = mII[p] - mI[p] * mI[p] + eps;
      slopeA[p] = (mIA[p] - mI[p] * mA[p]) / v;
      slopeB[p] = (mIB[p] - mI[p] * mB[p]) / v;
    }
    const sA = boxFilter(slopeA, h, w, radius), sB = boxFilter(slopeB, h, w, radius);
    for (let p = 0; p < n; p++) { sA[p] /= 100.0; sB[p] /= 100.0; }
    channels = [sA, sB, a0, b0, lLow]; // slope per unit of L, ab, low-resolution L
  } else {
    channels = [a0, b0];
  }
  // widen every channel to the full width once (h x W is small), then blend two rows per output row
  const cx = bilinearTaps(w, width), cy = bilinearTaps(h, height);
  const wide = channels.map((c) => {
    const o = new Float32Array(h * width);
    for (let y = 0; y < h; y++) {
      const base = y * w;
      for (let x = 0; x < width; x++) {
        const f = cx.frac[x];
        o[y * width + x] = c[base + cx.i0[x]] * (1 - f) + c[base + cx.i1[x]] * f;
      }
    }
    return o;
  });
  const rgba = out || new Uint8ClampedArray(width * height * 4);
  const M = RGB_FROM_T;
  const row = (c, y0, y1, f, x) => { const lo = c[y0 + x]; return lo + (c[y1 + x] - lo) * f; };
  for (let y = 0; y < height; y++) {
    const y0 = cy.i0[y] * width, y1 = cy.i1[y] * width, f = cy.frac[y];
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const L = lFull[p];
      let a, b;
      if (guided) {
        const detail = L - row(wide[4], y0, y1, f, x);
        a = row(wide[2], y0, y1, f, x) + row(wide[0], y0, y1, f, x) * detail;
        b = row(wide[3], y0, y1, f, x) + row(wide[1], y0, y1, f, x) * detail;
      } else {
        a = row(wide[0], y0, y1, f, x);
        b = row(wide[1], y0, y1, f, x);
      }
      a *= strength; b *= strength;
      const fy = (L + 16.0) / 116.0;
      const fx = fy + a / 500.0;
      const fz = Math.max(fy - b / 200.0, 0.0);
      const tx = fx > F_THRESHOLD ? fx * fx * fx : (fx - DELTA) / KAPPA;
      const ty = fy > F_THRESHOLD ? fy * fy * fy : (fy - DELTA) / KAPPA;
      const tz = fz > F_THRESHOLD ? fz * fz * fz : (fz - DELTA) / KAPPA;
      const q = 4 * p;
      for (let c = 0; c < 3; c++) {
        const lin = M[c][0] * tx + M[c][1] * ty + M[c][2] * tz;
        let s = lin > LINEAR_KNEE ? 1.055 * Math.pow(Math.max(lin, LINEAR_KNEE), 1.0 / 2.4) - 0.055 : lin * 12.92;
        s = Math.min(Math.max(s, 0.0), 1.0);
        rgba[q + c] = Math.trunc(s * 255.0 + 0.5);
      }
      rgba[q + 3] = alphaFrom ? alphaFrom[q + 3] : 255;
    }
  }
  return rgba;
}

/** The photo as the network sees it: L* alone (a* = b* = 0) as 8-bit grey RGBA, alpha from `alphaFrom`. */
export function greyscale(lFull, out, alphaFrom = null) {
  for (let p = 0, q = 0; p < lFull.length; p++, q += 4) {
    const fy = (lFull[p] + 16.0) / 116.0;
    const y = fy > F_THRESHOLD ? fy * fy * fy : (fy - DELTA) / KAPPA; // white Y is 1: linear grey
    const s = y > LINEAR_KNEE ? 1.055 * Math.pow(Math.max(y, LINEAR_KNEE), 1.0 / 2.4) - 0.055 : y * 12.92;
    const v = Math.trunc(Math.min(Math.max(s, 0.0), 1.0) * 255.0 + 0.5);
    out[q] = v; out[q + 1] = v; out[q + 2] = v;
    out[q + 3] = alphaFrom ? alphaFrom[q + 3] : 255;
  }
  return out;
}
