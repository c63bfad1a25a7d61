// Classifier head: ReLU -> global average pool -> linear (torch: ReLU, AdaptiveAvgPool2d(1), Linear(C, CLS)).
//
// Entry `gap`:    0 x: array<f32> [N][C][HW]; 1 feat: array<f32> [N][C] = mean_hw relu(x), or mean_hw x
//                 when RELU is false (DARTS: NetworkCIFAR pools the last cell's output directly)
//                 Dispatch x = ceil(N*C/64).
// Entry `linear`: 0 feat [N][C]; 1 wb: array<f32> [CLS][C] weights then [CLS] bias; 2 out [N][CLS]
//                 Dispatch x = ceil(N*CLS/64).

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override N: u32;
override C: u32;
override HW: u32 = 1u;
override CLS: u32 = 1u;
override RELU: bool = true;

@compute @workgroup_size(64)
fn gap(@builtin(global_invocation_id) gid: vec3<u32>) {
  let live = gid.x < N * C;
  let i = min(gid.x, N * C - 1u);
  var s = 0.0;
  for (var p = 0u; p < HW; p++) {
    let v = src[i * HW + p];
    s += select(v, max(v, 0.0), RELU);
  }
  if (live) {
    dst[i] = s / f32(HW);
  }
}

@compute @workgroup_size(64)
fn linear(@builtin(global_invocation_id) gid: vec3<u32>) {
  let live = gid.x < N * CLS;
  let i = min(gid.x, N * CLS - 1u);
  let n = i / CLS;
  let k = i % CLS;
  var s = dst[CLS * C + k];
  for (var c = 0u; c < C; c++) {
    s += src[n * C + c] * dst[k * C + c];
  }
  if (live) {
    out[i] = s;
  }
}
