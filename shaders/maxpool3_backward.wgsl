// Backward of a 3x3 max pool (stride 1, pad 1, padding ignored), as grad_elementwise.wgsl documents it:
//   dx[i] += sum of g over the windows (in row-major order of their centres) whose first maximum is x[i]
// (first maximum: the first element, in row-major order, strictly greater than every one before it, as
// PyTorch's MaxPool2d picks). One input element per invocation: its 5x5 neighbourhood of x is loaded once
// into registers and the first maximum of each of the 9 windows around it is found there (unrolled by
// backward.ts), instead of reloading 9 elements for each window.
//
// Bindings:
//   0 x  : array<f32>  [N][C][H][W] the pool's input
//   1 g  : array<f32>  [N][C][H][W] dL/d(pool output)
//   2 dx : array<f32>  [N][C][H][W], accumulated in place
// Dispatch: x = ceil(N*C*H*W/64) (flat_id), one input element per invocation.

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

override N: u32;
override C: u32;
override H: u32;
override W: u32;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid3: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let gid = flat_id(gid3, nwg);
  let total = N * C * H * W;
  let live = gid.x < total;
  let i = min(gid.x, total - 1u);
  let xx = i32(i % W);
  let yy = i32((i / W) % H);
  let base = i - u32(yy) * W - u32(xx);
${BODY}
  if (live) {
    dx[i] = dx[i] + acc;
  }
}
