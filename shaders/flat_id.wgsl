// Shared WGSL helper, appended by gpu.ts (withHelpers) to every kernel that calls it and does not define it.
//
// The invocation's index when a dispatch too large for one dimension is split over x and y (groupsFor):
// workgroups of 64 invocations, x fastest.
fn flat_id(gid3: vec3<u32>, nwg: vec3<u32>) -> vec3<u32> {
  return vec3<u32>(gid3.x + gid3.y * nwg.x * 64u, 0u, 0u);
}
