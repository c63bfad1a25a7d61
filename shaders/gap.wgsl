// Global average pool without ReLU (torch: AdaptiveAvgPool2d(1) on the raw tensor), the first half of the
// DARTS classifier head (NetworkCIFAR pools the last cell's output directly); the linear half is head.wgsl's
// `linear` entry.
//
// Entry `gap`: 0 x: array<f32> [N][C][HW]; 1 feat: array<f32> [N][C] = mean_hw x
//              Dispatch x = ceil(N*C/64).

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

override N: u32;
override C: u32;
override HW: u32 = 1u;

@compute @workgroup_size(64)
fn gap(@builtin(global_invocation_id) gid: vec3<u32>) {
  let live = gid.x < N * C;
  let i = min(gid.x, N * C - 1u);
  var s = 0.0;
  for (var p = 0u; p < HW; p++) {
    s += src[i * HW + p];
  }
  if (live) {
    dst[i] = s / f32(HW);
  }
}
