// Scaled accumulation kernels for synflow's overflow-free forward and backward (proxies/synflow.ts): every
// tensor is stored divided by a host-known scale, so each term is added with a coefficient a (a uniform):
//   axpy  : y += a * x
//   pool3 : y += a * AvgPool2d(3, 1, 1, count_include_pad=False)(x)         (H x W in and out)
//   pool2 : y += a * AvgPool2d(2, 2)(x)                                     (x is H x W, y is HO x WO)
//   pool3t: y += a * AvgPool3^T(x)                                          (the backward of pool3)
//   pool2t: y += a * AvgPool2^T(x)                                          (x is HO x WO, y is H x W)
//           with PICK (entry pool2t): y += a * Pick2^T(x), y[2i, 2j] += a * x[i, j], the backward of the
//           nearest half-size resize (other elements unchanged)
//   maxpool3: y += a * MaxPool2d(3, 1, 1)(x)                                (H x W in and out)
//   maxpool2: y += a * MaxPool2d(2, 2)(x)                                   (x is H x W, y is HO x WO)
//   chans : y[n, OY + j] += a * x[n, OX + j] for the COUNT channels j       (a channel block of x, CX
//           channels, into one of y, CY channels; H x W planes, dispatched over N x COUNT planes)
//
// Bindings:
//   0 x    : array<f32>
//   1 y    : array<f32>
//   2 coef : vec4<f32>  .x = a
// Dispatch: x = ceil(elements of y / 64), one element of y per invocation.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> coef: vec4<f32>;

override N: u32;
override C: u32;
override H: u32;
override W: u32;
override HO: u32 = 1u;
override WO: u32 = 1u;
override PICK: bool = false;
override CX: u32 = 1u;
override OX: u32 = 0u;
override CY: u32 = 1u;
override OY: u32 = 0u;

@compute @workgroup_size(64)
fn axpy(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let v = y[i] + coef.x * x[i];
  if (live) {
    y[i] = v;
  }
}

fn count3(p: i32, size: i32) -> f32 {
  return f32(min(p + 1, size - 1) - max(p - 1, 0) + 1);
}

@compute @workgroup_size(64)
fn pool3(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let xx = i32(i % W);
  let yy = i32((i / W) % H);
  let plane = (i / (W * H)) * H * W;
  var s = 0.0;
  for (var dy = -1; dy <= 1; dy++) {
    for (var dx = -1; dx <= 1; dx++) {
      let py = yy + dy;
      let px = xx + dx;
      let ok = py >= 0 && py < i32(H) && px >= 0 && px < i32(W);
      let v = x[plane + u32(clamp(py, 0, i32(H) - 1)) * W + u32(clamp(px, 0, i32(W) - 1))];
      s += select(0.0, v, ok);
    }
  }
  let v = y[i] + coef.x * s / (count3(yy, i32(H)) * count3(xx, i32(W)));
  if (live) {
    y[i] = v;
  }
}

@compute @workgroup_size(64)
fn pool3t(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let xx = i32(i % W);
  let yy = i32((i / W) % H);
  let plane = (i / (W * H)) * H * W;
  var s = 0.0;
  for (var dy = -1; dy <= 1; dy++) {
    for (var dx = -1; dx <= 1; dx++) {
      let oy = yy + dy;
      let ox = xx + dx;
      let ok = oy >= 0 && oy < i32(H) && ox >= 0 && ox < i32(W);
      let cy = clamp(oy, 0, i32(H) - 1);
      let cx = clamp(ox, 0, i32(W) - 1);
      s += select(0.0, x[plane + u32(cy) * W + u32(cx)] / (count3(cy, i32(H)) * count3(cx, i32(W))), ok);
    }
  }
  let v = y[i] + coef.x * s;
  if (live) {
    y[i] = v;
  }
}

@compute @workgroup_size(64)
fn pool2(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  // One output element (HO x WO planes) per invocation.
  let total = N * C * HO * WO;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let ox = i % WO;
  let oy = (i / WO) % HO;
  let base = (i / (WO * HO)) * H * W + 2u * oy * W + 2u * ox;
  let s = x[base] + x[base + 1u] + x[base + W] + x[base + W + 1u];
  let v = y[i] + coef.x * s * 0.25;
  if (live) {
    y[i] = v;
  }
}

@compute @workgroup_size(64)
fn pool2t(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let xx = i % W;
  let yy = (i / W) % H;
  let nc = i / (W * H);
  // PICK: only the top-left element of each 2x2 block was read by the forward, with weight 1.
  let inside = yy / 2u < HO && xx / 2u < WO && (!PICK || (yy % 2u == 0u && xx % 2u == 0u));
  let g = x[(nc * HO + min(yy / 2u, HO - 1u)) * WO + min(xx / 2u, WO - 1u)];
  let v = y[i] + coef.x * select(0.0, select(g * 0.25, g, PICK), inside);
  if (live) {
    y[i] = v;
  }
}

@compute @workgroup_size(64)
fn maxpool3(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let xx = i32(i % W);
  let yy = i32((i / W) % H);
  let plane = (i / (W * H)) * H * W;
  // The centre is always inside; padding never wins (PyTorch pads max pools with -inf).
  var m = x[i];
  for (var dy = -1; dy <= 1; dy++) {
    for (var dx = -1; dx <= 1; dx++) {
      let py = yy + dy;
      let px = xx + dx;
      let ok = py >= 0 && py < i32(H) && px >= 0 && px < i32(W);
      let v = x[plane + u32(clamp(py, 0, i32(H) - 1)) * W + u32(clamp(px, 0, i32(W) - 1))];
      m = select(m, max(m, v), ok);
    }
  }
  let v = y[i] + coef.x * m;
  if (live) {
    y[i] = v;
  }
}

@compute @workgroup_size(64)
fn maxpool2(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * HO * WO;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let ox = i % WO;
  let oy = (i / WO) % HO;
  let base = (i / (WO * HO)) * H * W + 2u * oy * W + 2u * ox;
  let m = max(max(x[base], x[base + 1u]), max(x[base + W], x[base + W + 1u]));
  let v = y[i] + coef.x * m;
  if (live) {
    y[i] = v;
  }
}

@compute @workgroup_size(64)
fn chans(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  // C is the block's channel count (COUNT); H x W the planes.
  let hw = H * W;
  let total = N * C * hw;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let p = i % hw;
  let j = (i / hw) % C;
  let n = i / (hw * C);
  let yi = (n * CY + OY + j) * hw + p;
  let v = y[yi] + coef.x * x[(n * CX + OX + j) * hw + p];
  if (live) {
    y[yi] = v;
  }
}
