/**
 * The WebGPU runtime: adapter and device, limits, a pipeline cache keyed by kernel and constants, a buffer
 * pool, command recording and one-shot read-back. Knows nothing of neural architecture search.
 *
 * @example
 * ```ts
 * import { Gpu } from "./gpu.ts";
 * const gpu = await Gpu.open();
 * console.log(gpu.describe());
 * gpu.dispose();
 * ```
 * @module
 */

/// <reference types="@webgpu/types" />

import flatId from "./flat_id.wgsl" with { type: "text" };

/**
 * Shared WGSL helpers, by name: each is appended to a kernel's code when the code calls it and does not
 * define it (see {@link withHelpers}).
 */
const HELPERS: readonly { name: string; code: string }[] = [{ name: "flat_id", code: flatId }];

/** `code` with the shared helpers it calls but does not define appended. Pure. */
export function withHelpers(code: string): string {
  let out = code;
  for (const h of HELPERS) {
    if (new RegExp(`\\b${h.name}\\(`).test(code) && !new RegExp(`\\bfn\\s+${h.name}\\b`).test(code)) {
      out += `\n${h.code}`;
    }
  }
  return out;
}

/** A compute kernel: WGSL source (already rendered), entry point, override constants and a name for errors. */
export interface Kernel {
  /** Human name used in labels and error messages, e.g. `conv2d_k3s1_p4c8`. */
  name: string;
  /** WGSL source text. */
  code: string;
  /** Entry point (default `main`). */
  entry?: string;
  /** Values of WGSL `override` constants. */
  constants?: Record<string, number>;
}

/** Raised when no WebGPU adapter exists; the CLI prints its message and exits with code 2. */
export class NoAdapterError extends Error {
  override name = "NoAdapterError";
}

/** Raised when WGSL fails to compile or a pipeline or dispatch fails validation; names the kernel. */
export class GpuKernelError extends Error {
  override name = "GpuKernelError";
}

const NO_ADAPTER_HELP = "no WebGPU adapter found. untrained needs a GPU driver Deno's WebGPU can use: " +
  "a Vulkan driver for your GPU (or Metal on macOS, D3D12 on Windows), or a software one: on Debian/Ubuntu " +
  "`apt install mesa-vulkan-drivers` (lavapipe) or Mesa's llvmpipe OpenGL driver (`libgl1-mesa-dri`, `libegl-mesa0`). " +
  "Choose the backend with DENO_WEBGPU_BACKEND=vulkan|gl.";

/** Limits the kernels of this project rely on. */
const REQUIRED_LIMITS = {
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupSizeX: 64,
  maxComputeInvocationsPerWorkgroup: 64,
  maxStorageBufferBindingSize: 64 * 1024 * 1024,
} as const;

/** Usage flags of pooled storage buffers. */
const STORAGE = 0x80 | 0x04 | 0x08 | 0x40; // STORAGE | COPY_SRC | COPY_DST | UNIFORM (ranges bound as uniforms)
/** Usage flags of uploaded constant buffers: storage or uniform. */
const UPLOAD = STORAGE;

/** A pooled GPU buffer handle with its byte size. */
export interface PooledBuffer {
  buffer: GPUBuffer;
  size: number;
}

/** A byte range of a buffer, bound at an offset (a multiple of 256). */
export interface BufferRange {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

/** An argument bound to a kernel: a GPU buffer, a pooled one, or a range of one. */
export type Binding = GPUBuffer | PooledBuffer | BufferRange;

/** Records dispatches into one command encoder; `submit` sends them in one queue submission. */
export class Recorder {
  #gpu: Gpu;
  #encoder: GPUCommandEncoder;
  #pass: GPUComputePassEncoder | null = null;
  #owned: GPUBuffer[] = [];
  #profile: { set: GPUQuerySet; labels: string[]; capacity: number } | null = null;
  /** Number of dispatches recorded. */
  dispatches = 0;

  constructor(gpu: Gpu, label: string) {
    this.#gpu = gpu;
    this.#encoder = gpu.device.createCommandEncoder({ label });
  }

  /**
   * Records one dispatch of `pipeline` with `bindings[i]` as @group(0) @binding(i); `null` entries are
   * bindings the entry point does not use.
   */
  dispatch(
    pipeline: GPUComputePipeline,
    bindings: (Binding | null)[],
    groups: [number, number?, number?],
  ): void {
    const [x, y = 1, z = 1] = groups;
    if (x === 0 || y === 0 || z === 0) return;
    const max = this.#gpu.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new GpuKernelError(
        `${pipeline.label}: dispatch ${x}x${y}x${z} exceeds ${max} workgroups per dimension`,
      );
    }
    const group = this.#gpu.device.createBindGroup({
      label: `${pipeline.label}.bindGroup`,
      layout: pipeline.getBindGroupLayout(0),
      entries: bindings.flatMap((b, i) =>
        b === null ? [] : [{
          binding: i,
          resource: "offset" in b ? { buffer: b.buffer, offset: b.offset, size: b.size } : { buffer: buf(b) },
        }]
      ),
    });
    if (this.#profile) {
      // One pass per dispatch, timestamped at its start and end.
      this.#endPass();
      const q = this.#profile;
      if (q.labels.length * 2 + 2 > q.capacity) throw new GpuKernelError("profiling: too many dispatches");
      const i = q.labels.length * 2;
      q.labels.push(pipeline.label);
      this.#pass = this.#encoder.beginComputePass({
        label: "Recorder.pass",
        timestampWrites: { querySet: q.set, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 },
      });
    } else if (this.#pass === null) this.#pass = this.#encoder.beginComputePass({ label: "Recorder.pass" });
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, group);
    this.#pass.dispatchWorkgroups(x, y, z);
    if (this.#profile) this.#endPass();
    this.dispatches++;
  }

  /**
   * Starts timing every later dispatch (the device must have `timestamp-query`; see `Gpu.canProfile`).
   * `timings()` after `submit()` returns GPU seconds per kernel name.
   */
  profile(capacity = 4096): void {
    const set = this.#gpu.device.createQuerySet({
      label: "Recorder.profile",
      type: "timestamp",
      count: capacity,
    });
    this.#profile = { set, labels: [], capacity };
  }

  /** GPU seconds per kernel (pipeline label) of a profiled recording, after `submit()`. */
  async timings(): Promise<Map<string, number>> {
    const q = this.#profile;
    if (!q) throw new GpuKernelError("timings(): profile() was not called");
    const n = q.labels.length * 2;
    const out = new Map<string, number>();
    if (n === 0) return out;
    const resolve = this.#gpu.device.createBuffer({
      label: "Recorder.profile.resolve",
      size: n * 8,
      usage: 0x200 | 0x04,
    });
    const enc = this.#gpu.device.createCommandEncoder({ label: "Recorder.profile.resolve" });
    enc.resolveQuerySet(q.set, 0, n, resolve, 0);
    this.#gpu.device.queue.submit([enc.finish()]);
    const [data] = await this.#gpu.read([{ src: resolve, size: n * 8 }]);
    const ts = new BigUint64Array(data!);
    q.labels.forEach((label, k) => {
      const dt = Number(ts[2 * k + 1]! - ts[2 * k]!) * 1e-9;
      out.set(label, (out.get(label) ?? 0) + dt);
    });
    resolve.destroy();
    q.set.destroy();
    return out;
  }

  /** A small uniform buffer holding `data` (16-byte padded), destroyed by `dispose`. */
  uniform(data: Uint32Array | Float32Array): GPUBuffer {
    const b = this.#gpu.upload(data, "Recorder.uniform");
    this.#owned.push(b);
    return b;
  }

  /** Destroys the buffers this recorder created (call after the submitted work was read back). */
  dispose(): void {
    for (const b of this.#owned) b.destroy();
    this.#owned = [];
  }

  /** Records zero-filling of a buffer range. */
  clear(b: Binding, offset = 0, size?: number): void {
    this.#endPass();
    this.#encoder.clearBuffer(buf(b), offset, size);
  }

  #endPass(): void {
    if (this.#pass !== null) {
      this.#pass.end();
      this.#pass = null;
    }
  }

  /** Finishes and submits the recorded work. */
  submit(): void {
    this.#endPass();
    this.#gpu.device.queue.submit([this.#encoder.finish()]);
  }
}

function buf(b: Binding): GPUBuffer {
  return "buffer" in b ? b.buffer : b;
}

/** A WebGPU device with a pipeline cache and a buffer pool. */
export class Gpu {
  /** The adapter the device came from. */
  readonly adapter: GPUAdapter;
  /** The device. */
  readonly device: GPUDevice;
  #pipelines = new Map<string, Promise<GPUComputePipeline>>();
  #ready = new Map<string, GPUComputePipeline>();
  #pool = new Map<number, GPUBuffer[]>();
  #live = 0;
  #lost: string | null = null;
  #index: GPUBuffer | null = null;
  /** Seconds spent compiling shaders and pipelines. */
  compileSeconds = 0;

  private constructor(adapter: GPUAdapter, device: GPUDevice) {
    this.adapter = adapter;
    this.device = device;
    device.lost.then((info) => {
      if (info.reason !== "destroyed") this.#lost = `GPU device lost (${info.reason}): ${info.message}`;
    });
    device.addEventListener("uncapturederror", (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      console.error(`untrained: uncaptured WebGPU error: ${e.message}`);
      // Work after a failed command is not to be trusted: the next call on this device throws.
      this.#lost ??= `uncaptured WebGPU error: ${e.message}`;
    });
  }

  /** Opens the default adapter and a device with the limits this project needs. */
  static async open(): Promise<Gpu> {
    // deno-lint-ignore no-explicit-any
    const gpuApi = (globalThis.navigator as any)?.gpu as GPU | undefined;
    if (!gpuApi) throw new NoAdapterError(NO_ADAPTER_HELP);
    let adapter: GPUAdapter | null = null;
    try {
      adapter = await gpuApi.requestAdapter({ powerPreference: "high-performance" });
    } catch (e) {
      throw new NoAdapterError(`${NO_ADAPTER_HELP} (requestAdapter failed: ${(e as Error).message})`);
    }
    if (!adapter) throw new NoAdapterError(NO_ADAPTER_HELP);
    const requiredLimits: Record<string, number> = {};
    for (const [k, need] of Object.entries(REQUIRED_LIMITS)) {
      const have = (adapter.limits as unknown as Record<string, number>)[k] ?? 0;
      if (have < need) {
        throw new NoAdapterError(
          `the WebGPU adapter offers ${k} = ${have}; untrained needs at least ${need}`,
        );
      }
      requiredLimits[k] = have;
    }
    requiredLimits.maxBufferSize = adapter.limits.maxBufferSize;
    const timestamps = adapter.features.has("timestamp-query");
    const device = await adapter.requestDevice({
      label: "untrained.device",
      requiredLimits,
      requiredFeatures: timestamps ? ["timestamp-query"] : [],
    });
    return new Gpu(adapter, device);
  }

  /** True when dispatches can be timed on the GPU (`timestamp-query`). */
  get canProfile(): boolean {
    return this.device.features.has("timestamp-query");
  }

  /** One line naming the adapter and backend. */
  describe(): string {
    const i = this.adapter.info;
    // Subgroup sizes tell Deno's backends apart on the same driver (llvmpipe: GL 4-128, Vulkan 8-8); their
    // shader compilers round differently, so scores are reproducible per description, not across them.
    const sub = i.subgroupMinSize ? `, subgroups ${i.subgroupMinSize}-${i.subgroupMaxSize}` : "";
    return `${i.description || i.device || "unknown adapter"} (vendor ${i.vendor || "?"}${
      i.architecture ? `, ${i.architecture}` : ""
    }${i.isFallbackAdapter ? ", software fallback" : ""}${sub})`;
  }

  /**
   * For the user, when the adapter is a software fallback: such a driver compiles each kernel variant at its
   * first dispatch (Mesa's llvmpipe: with LLVM, minutes for a network's first arch on a fresh machine, then
   * kept in Mesa's on-disk cache, which the line names). Null on hardware adapters.
   */
  softwareNote(): string | null {
    if (!this.adapter.info.isFallbackAdapter) return null;
    const cache = this.describe().includes("llvmpipe")
      ? " and keeps them in Mesa's shader cache (MESA_SHADER_CACHE_DIR, by default " +
        "~/.cache/mesa_shader_cache), so later runs start in seconds"
      : "";
    return `note: ${this.describe()} is a software (CPU) adapter; it compiles each kernel the first time it ` +
      `runs, which can take minutes on a fresh machine${cache}`;
  }

  /** The adapter's limits as a plain sorted record. */
  limits(): Record<string, number> {
    const out: Record<string, number> = {};
    const l = this.adapter.limits as unknown as Record<string, number>;
    const proto = Object.getPrototypeOf(this.adapter.limits);
    for (const k of Object.keys(Object.getOwnPropertyDescriptors(proto)).sort()) {
      if (typeof l[k] === "number") out[k] = l[k];
    }
    return out;
  }

  #checkLost(): void {
    if (this.#lost) throw new GpuKernelError(this.#lost);
  }

  /** Compiles (once) and returns the pipeline of a kernel; errors name the kernel. */
  pipeline(k: Kernel): Promise<GPUComputePipeline> {
    this.#checkLost();
    const key = pipelineKey(k);
    let p = this.#pipelines.get(key);
    if (!p) {
      p = this.#compile(k, key);
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** The already compiled pipeline of a kernel, or undefined. */
  compiled(k: Kernel): GPUComputePipeline | undefined {
    return this.#ready.get(pipelineKey(k));
  }

  async #compile(k: Kernel, key: string): Promise<GPUComputePipeline> {
    const t0 = performance.now();
    const code = withHelpers(k.code);
    if (debugEnabled()) console.error(`--- WGSL ${k.name} ${JSON.stringify(k.constants ?? {})}\n${code}`);
    this.device.pushErrorScope("validation");
    const module = this.device.createShaderModule({ label: `${k.name}.module`, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length > 0) {
      await this.device.popErrorScope();
      throw new GpuKernelError(
        `WGSL kernel ${k.name} failed to compile:\n` +
          errors.map((m) => `  line ${m.lineNum}:${m.linePos}: ${m.message}`).join("\n"),
      );
    }
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.device.createComputePipelineAsync({
        label: k.name,
        layout: "auto",
        compute: { module, entryPoint: k.entry ?? "main", constants: k.constants ?? {} },
      });
    } catch (e) {
      await this.device.popErrorScope();
      throw new GpuKernelError(`pipeline for kernel ${k.name} failed: ${(e as Error).message}`);
    }
    const err = await this.device.popErrorScope();
    if (err) throw new GpuKernelError(`kernel ${k.name} failed validation: ${err.message}`);
    this.compileSeconds += (performance.now() - t0) / 1000;
    this.#ready.set(key, pipeline);
    return pipeline;
  }

  /** Takes a storage buffer of at least `size` bytes from the pool (rounded up to a size class). */
  acquire(size: number, label = "pool"): PooledBuffer {
    this.#checkLost();
    const cls = sizeClass(size);
    const list = this.#pool.get(cls);
    const b = list?.pop() ??
      this.device.createBuffer({ label: `Gpu.pool.${label}`, size: cls, usage: STORAGE });
    this.#live++;
    return { buffer: b, size: cls };
  }

  /** Returns a pooled buffer for reuse. */
  release(b: PooledBuffer): void {
    const list = this.#pool.get(b.size) ?? [];
    list.push(b.buffer);
    this.#pool.set(b.size, list);
    this.#live--;
  }

  /** Number of pooled buffers currently acquired and not released (for leak tests). */
  get liveBuffers(): number {
    return this.#live;
  }

  /** Creates a storage buffer holding `data` (not pooled; destroy it or keep it). */
  upload(data: ArrayBufferView, label: string): GPUBuffer {
    this.#checkLost();
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const b = this.device.createBuffer({ label, size, usage: UPLOAD, mappedAtCreation: true });
    new Uint8Array(b.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    b.unmap();
    return b;
  }

  /** Writes `data` into an existing buffer at `offset` bytes. */
  write(b: Binding, data: ArrayBufferView, offset = 0): void {
    this.device.queue.writeBuffer(
      buf(b),
      offset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  /**
   * A 16-byte uniform range holding `vec4<u32>(i, 0, 0, 0)`, for kernels dispatched once per block
   * (i < 1024); the ranges live in one buffer created on first use.
   */
  blockIndex(i: number): BufferRange {
    if (!Number.isInteger(i) || i < 0 || i >= 1024) throw new RangeError(`blockIndex: ${i} out of 0..1023`);
    if (this.#index === null) {
      const data = new Uint32Array(1024 * 64);
      for (let j = 0; j < 1024; j++) data[j * 64] = j;
      this.#index = this.upload(data, "Gpu.blockIndex");
    }
    return { buffer: this.#index, offset: i * 256, size: 16 };
  }

  /** Starts recording a batch of dispatches. */
  record(label: string): Recorder {
    this.#checkLost();
    return new Recorder(this, label);
  }

  /**
   * Copies several buffer ranges into one staging buffer and maps it once (every map costs a round trip),
   * returning a copy of each range's bytes.
   */
  async read(ranges: { src: Binding; offset?: number; size: number }[]): Promise<ArrayBuffer[]> {
    this.#checkLost();
    let total = 0;
    const offsets: number[] = [];
    for (const r of ranges) {
      offsets.push(total);
      total += Math.ceil(r.size / 4) * 4;
    }
    const staging = this.device.createBuffer({
      label: "Gpu.readStaging",
      size: Math.max(4, total),
      usage: 0x0001 | 0x0008, // MAP_READ | COPY_DST
    });
    const enc = this.device.createCommandEncoder({ label: "Gpu.read" });
    ranges.forEach((r, i) => enc.copyBufferToBuffer(buf(r.src), r.offset ?? 0, staging, offsets[i]!, r.size));
    this.device.queue.submit([enc.finish()]);
    this.device.pushErrorScope("validation");
    await staging.mapAsync(1 /* READ */);
    const all = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    const err = await this.device.popErrorScope();
    if (err) throw new GpuKernelError(`read-back failed validation: ${err.message}`);
    this.#checkLost();
    return ranges.map((r, i) => all.slice(offsets[i]!, offsets[i]! + r.size));
  }

  /** Releases the pool and the device. */
  dispose(): void {
    for (const list of this.#pool.values()) for (const b of list) b.destroy();
    this.#pool.clear();
    this.device.destroy();
  }
}

const codeHashes = new Map<string, number>();

function pipelineKey(k: Kernel): string {
  const c = Object.entries(k.constants ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  // Kernel texts are memoised by their generators, so equal texts are usually the same string object;
  // hashing each distinct text once keeps the per-dispatch lookup cheap.
  let h = codeHashes.get(k.code);
  if (h === undefined) {
    h = hashText(k.code);
    codeHashes.set(k.code, h);
  }
  return `${k.name}|${k.entry ?? "main"}|${JSON.stringify(c)}|${k.code.length}|${h}`;
}

function hashText(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function sizeClass(size: number): number {
  const min = 256;
  if (size <= min) return min;
  // Powers of two split in quarters: waste at most 25%.
  const p = 2 ** Math.floor(Math.log2(size));
  const q = p / 4;
  return Math.ceil(size / q) * q;
}

let debugFlag: boolean | null = null;
/** True when UNTRAINED_DEBUG is set (and readable): prints generated WGSL. */
export function debugEnabled(): boolean {
  if (debugFlag === null) {
    try {
      const granted =
        Deno.permissions.querySync({ name: "env", variable: "UNTRAINED_DEBUG" }).state === "granted";
      debugFlag = granted && (Deno.env.get("UNTRAINED_DEBUG") ?? "") !== "";
    } catch {
      debugFlag = false;
    }
  }
  return debugFlag;
}
