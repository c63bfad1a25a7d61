// Gather for on-GPU training (GenNAS): parameters live in one flat buffer (proxies/_train.ts), and the
// weights each kernel reads (packed, flipped/transposed, BN affine pairs) are copied out of it:
//   out[i] = idx[i] == 0 ? 0 : p[idx[i] - 1]                                   (i < COUNT)
// idx holds flat parameter positions + 1 (0 = padding), made once per layout on the host by applying the
// host-side arrangement to position numbers, so the copy is exact data movement. The loss and the update
// live in train_mse.wgsl and train_sgd.wgsl.
// Bindings: p, idx, out. Dispatch: x = ceil(COUNT / WG).

@group(0) @binding(0) var<storage, read> p: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// Invocations per workgroup: 64, fewer for small dispatches (workgroupFor).
override WG: u32 = 64u;
override COUNT: u32 = 1u;

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  if (gid.x >= COUNT) {
    return;
  }
  let j = idx[gid.x];
  out[gid.x] = select(0.0, p[max(j, 1u) - 1u], j != 0u);
}
