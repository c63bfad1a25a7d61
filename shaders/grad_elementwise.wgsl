// Elementwise backward helpers (the pooling backward passes are scaled.wgsl's pool3t / pool2t):
//   mask   : dx += (MASK ? (x > 0) : 1) * g                      ReLU backward (x = the ReLU input), or an add
//   dilate : dx = g with zeros inserted (overwrites; see the entry)
//   chan_dot: dx[n,c] = sum over the plane of x * g (overwrites; see the entry)
//   slice_t : channels FROM.. of dx += (MASK ? (x > 0) : 1) * channels TO.. of g   NB101's channel slice, backward
//   maxpool2_t : dx += the 2x2 max pool's backward (see the entry; the 3x3 one is maxpool3_backward.wgsl)
//   maxpool3_f / maxpool2_f : dx = g at each window's first maximum of x (max pools with frozen choices)
//
// Bindings:
//   0 x  : array<f32>  [N][C][H][W] (mask: the ReLU input)
//   1 g  : array<f32>  mask: [N][C][H][W]; dilate: [N][C][HO][WO]
//   2 dx : array<f32>  [N][C][H][W]
// Dispatch: x = ceil(N*C*H*W/64), one input element per invocation.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

override N: u32;
override C: u32;
override H: u32;
override W: u32;
override HO: u32 = 1u;
override WO: u32 = 1u;
override MASK: bool = false;
override SC: u32 = 1u;
override DC: u32 = 1u;
override FROM: u32 = 0u;
override TO: u32 = 0u;

@compute @workgroup_size(64)
fn mask(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  var v = g[i];
  if (MASK) {
    v = select(0.0, v, x[i] > 0.0);
  }
  if (live) {
    dx[i] = dx[i] + v;
  }
}

// dilate: x (binding 0 unused) -- writes dx[n,c,y,x] = g[n,c,y/2,x/2] when y and x are even and inside g
// (HO x WO), else 0: the zero-inserted gradient that turns a stride-2 input gradient into a stride-1 conv.
@compute @workgroup_size(64)
fn dilate(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let xx = i % W;
  let yy = (i / W) % H;
  let nc = i / (W * H);
  let inside = xx % 2u == 0u && yy % 2u == 0u && yy / 2u < HO && xx / 2u < WO;
  let v = g[(nc * HO + min(yy / 2u, HO - 1u)) * WO + min(xx / 2u, WO - 1u)];
  if (live) {
    dx[i] = select(0.0, v, inside);
  }
}

// chan_dot: dx[p] (p = one (image, channel) plane, W elements each, H = 1) = sum over the plane of x * g, in
// order. Dispatch: x = ceil(N*C/64), one plane per invocation.
@compute @workgroup_size(64)
fn chan_dot(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let planes = N * C;
  let live = gid.x < planes;
  let i = min(gid.x, planes - 1u);
  var s = 0.0;
  for (var p = 0u; p < W; p++) {
    s += x[i * W + p] * g[i * W + p];
  }
  if (live) {
    dx[i] = s;
  }
}

// slice_t: the backward of a `slice` term y[n, TO + c] = f(x[n, FROM + c]) (f = ReLU when MASK), c < C:
// dx[n, FROM + c, p] += (MASK ? x > 0 : 1) * g[n, TO + c, p]. x and dx have SC channels, g has DC, planes are
// H*W. Dispatch: x = ceil(N*C*H*W/64), one sliced element per invocation.
@compute @workgroup_size(64)
fn slice_t(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let hw = H * W;
  let total = N * C * hw;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let p = i % hw;
  let c = (i / hw) % C;
  let n = i / (hw * C);
  let si = (n * SC + FROM + c) * hw + p;
  var v = g[(n * DC + TO + c) * hw + p];
  if (MASK) {
    v = select(0.0, v, x[si] > 0.0);
  }
  if (live) {
    dx[si] = dx[si] + v;
  }
}

// The row-major index, in its H x W plane starting at `base`, of the first maximum (strictly greater than the
// ones before it, as PyTorch's MaxPool2d picks) among rows y0..y1 and columns x0..x1 (inclusive).
fn first_max(base: u32, y0: u32, y1: u32, x0: u32, x1: u32) -> u32 {
  var best = y0 * W + x0;
  var m = x[base + best];
  for (var yy = y0; yy <= y1; yy++) {
    for (var xx = x0; xx <= x1; xx++) {
      let v = x[base + yy * W + xx];
      if (v > m) {
        m = v;
        best = yy * W + xx;
      }
    }
  }
  return best;
}

// maxpool2_t: the backward of a 2x2 max pool, stride 2 (x = its H x W input, g = dL/d(output), HO x WO =
// floor(H/2) x floor(W/2); an odd last row or column gets nothing). Dispatch: x = ceil(N*C*H*W/64).
@compute @workgroup_size(64)
fn maxpool2_t(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let xx = i % W;
  let yy = (i / W) % H;
  let nc = i / (H * W);
  let base = i - yy * W - xx;
  let oy = yy / 2u;
  let ox = xx / 2u;
  let inside = oy < HO && ox < WO;
  let at = first_max(base, min(oy, HO - 1u) * 2u, min(oy, HO - 1u) * 2u + 1u, min(ox, WO - 1u) * 2u,
    min(ox, WO - 1u) * 2u + 1u);
  let v = g[(nc * HO + min(oy, HO - 1u)) * WO + min(ox, WO - 1u)];
  if (live) {
    dx[i] = dx[i] + select(0.0, v, inside && at == yy * W + xx);
  }
}

// maxpool3_f: a 3x3 max pool (stride 1, pad 1, padding ignored) whose choices are frozen: every output element
// is g at the first maximum of x in its window (x = the reference, g = the values, both H x W; dx = the
// output, H x W, overwritten). With x = g it is the max pool itself. Dispatch: x = ceil(N*C*H*W/64).
@compute @workgroup_size(64)
fn maxpool3_f(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let xx = i % W;
  let yy = (i / W) % H;
  let base = i - yy * W - xx;
  let at = first_max(base, max(yy, 1u) - 1u, min(yy + 1u, H - 1u), max(xx, 1u) - 1u, min(xx + 1u, W - 1u));
  if (live) {
    dx[i] = g[base + at];
  }
}

// maxpool2_f: a 2x2 max pool (stride 2) with frozen choices: output element (oy, ox) of the HO x WO output
// (dx, overwritten) is g at the first maximum of x in its window (x and g are H x W). Dispatch: x =
// ceil(N*C*HO*WO/64).
@compute @workgroup_size(64)
fn maxpool2_f(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * HO * WO;
  let live = gid.x < total;
  let o = min(gid.x, total - 1u);
  let ox = o % WO;
  let oy = (o / WO) % HO;
  let base = (o / (HO * WO)) * H * W;
  let at = first_max(base, oy * 2u, oy * 2u + 1u, ox * 2u, ox * 2u + 1u);
  if (live) {
    dx[o] = g[base + at];
  }
}
