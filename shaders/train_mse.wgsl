// Weighted MSE of a regression head (GenNAS): d = 2 W (y - t) / COUNT, the gradient of W * mean((y - t)^2),
// and sq = (y - t)^2, read back to get the loss.
// Bindings: y, t, d, sq. Dispatch x = ceil(COUNT / WG).

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read_write> d: array<f32>;
@group(0) @binding(3) var<storage, read_write> sq: array<f32>;

// Invocations per workgroup: 64, fewer for small dispatches (workgroupFor).
override WG: u32 = 64u;
override COUNT: u32 = 1u;
override W: f32 = 1.0;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  if (gid.x >= COUNT) {
    return;
  }
  let e = y[gid.x] - t[gid.x];
  d[gid.x] = 2.0 * W * e / f32(COUNT);
  sq[gid.x] = e * e;
}
