// SGD with momentum and weight decay on a slice of the flat parameter buffer (proxies/_train.ts):
// d = g + WD w; v = MOMENTUM v + d; w = w - LR v, g = grad[u.g + i] (0 when ZERO_GRAD).
// PyTorch's SGD (dampening 0, not Nesterov): its first step sets v = d, which equals MOMENTUM * 0 + d
// exactly, so v starts at zero.
// Bindings: p (flat parameters), v (flat momentum), grad, u (slice: p, g, count offsets in floats).
// Dispatch x = ceil(u.count / WG).

struct Slice {
  p: u32,
  g: u32,
  count: u32,
  pad: u32,
}

@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read_write> v: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<uniform> u: Slice;

// Invocations per workgroup: 64, fewer for small dispatches (workgroupFor).
override WG: u32 = 64u;
override LR: f32;
override MOMENTUM: f32;
override WD: f32;
override ZERO_GRAD: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  if (gid.x >= u.count) {
    return;
  }
  let i = u.p + gid.x;
  let g = select(grad[u.g + gid.x], 0.0, ZERO_GRAD);
  let d = g + WD * p[i];
  let m = MOMENTUM * v[i] + d;
  v[i] = m;
  p[i] = p[i] - LR * m;
}
