// Elementwise backward helpers (the pooling backward passes are scaled.wgsl's pool3t / pool2t):
//   mask   : dx += (MASK ? (x > 0) : 1) * g                      ReLU backward (x = the ReLU input), or an add
//   dilate : dx = g with zeros inserted (overwrites; see the entry)
//   chan_dot: dx[n,c] = sum over the plane of x * g (overwrites; see the entry)
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

@compute @workgroup_size(64)
fn mask(@builtin(global_invocation_id) gid: vec3<u32>) {
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
fn dilate(@builtin(global_invocation_id) gid: vec3<u32>) {
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
fn chan_dot(@builtin(global_invocation_id) gid: vec3<u32>) {
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
