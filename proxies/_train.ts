/**
 * Parameters that live on the GPU, for training loops without read-back (GenNAS): one flat buffer with every
 * parameter at a 64-float-aligned offset, a momentum buffer of the same layout, and cached index maps that let
 * `gather` kernels arrange weights the way the convolution kernels read them (packed, transposed, flipped).
 * An index map is the host-side arrangement function applied to position numbers (flat offset + 1; 0 marks
 * padding), so the GPU copy is exact and the arrangement code exists once.
 * @module
 */

import type { BufferRange, Gpu } from "../shaders/gpu.ts";
import type { Params } from "../spaces/init.ts";
import type { NetworkPlan } from "../spaces/plan.ts";

/** Floats between parameter starts are multiples of this (256 bytes: a valid binding offset). */
const ALIGN = 64;

/** Parameters on the GPU in one flat buffer. */
export class GpuParams {
  readonly buf: GPUBuffer;
  /** Momentum of SGD, same layout, zero at the start. */
  readonly momentum: GPUBuffer;
  /** Offset and length (floats) of each parameter. */
  readonly layout: ReadonlyMap<string, { offset: number; length: number }>;
  /** Floats in the flat buffer. */
  readonly size: number;
  #maps = new Map<string, { buf: GPUBuffer; count: number }>();
  #slices = new Map<string, GPUBuffer>();

  private constructor(
    buf: GPUBuffer,
    momentum: GPUBuffer,
    layout: Map<string, { offset: number; length: number }>,
    size: number,
  ) {
    this.buf = buf;
    this.momentum = momentum;
    this.layout = layout;
    this.size = size;
  }

  /** Uploads the plan's parameters (in plan order) into a new flat buffer. */
  static create(gpu: Gpu, plan: NetworkPlan, params: Params): GpuParams {
    const layout = new Map<string, { offset: number; length: number }>();
    let size = 0;
    for (const p of plan.params) {
      const v = params.get(p.name);
      if (!v) throw new Error(`plan ${plan.arch}: missing parameter ${p.name}`);
      layout.set(p.name, { offset: size, length: v.length });
      size += Math.ceil(v.length / ALIGN) * ALIGN;
    }
    // Positions are carried in float32 by the index maps: exact below 2^24.
    if (size >= 2 ** 24) throw new RangeError(`GpuParams: ${size} floats exceed 2^24`);
    const flat = new Float32Array(Math.max(size, 4));
    for (const [name, at] of layout) flat.set(params.get(name)!, at.offset);
    return new GpuParams(
      gpu.upload(flat, "GpuParams.flat"),
      gpu.upload(new Float32Array(flat.length), "GpuParams.momentum"),
      layout,
      size,
    );
  }

  /** Offset and length of a parameter. */
  at(name: string): { offset: number; length: number } {
    const a = this.layout.get(name);
    if (!a) throw new Error(`GpuParams: no parameter ${name}`);
    return a;
  }

  /**
   * The index map (uint32 positions + 1, 0 = padding) of `arrange` applied to the parameters `names`,
   * uploaded on first use under `key`.
   */
  map(
    gpu: Gpu,
    key: string,
    names: readonly string[],
    arrange: (values: Float32Array[]) => Float32Array,
  ): { buf: GPUBuffer; count: number } {
    let m = this.#maps.get(key);
    if (!m) {
      const positions = names.map((name) => {
        const { offset, length } = this.at(name);
        return Float32Array.from({ length }, (_, i) => offset + i + 1);
      });
      const arranged = Uint32Array.from(arrange(positions));
      m = { buf: gpu.upload(arranged, `GpuParams.map ${key}`), count: arranged.length };
      this.#maps.set(key, m);
    }
    return m;
  }

  /** A uniform (p, g, count) for an SGD step of `name` whose gradient starts at float `gOffset`. */
  slice(gpu: Gpu, name: string, gOffset: number): BufferRange {
    const key = `${name}@${gOffset}`;
    let b = this.#slices.get(key);
    if (!b) {
      const { offset, length } = this.at(name);
      b = gpu.upload(Uint32Array.of(offset, gOffset, length, 0), `GpuParams.slice ${name}`);
      this.#slices.set(key, b);
    }
    return { buffer: b, offset: 0, size: 16 };
  }

  /** Reads every parameter back (tests and checks). */
  async read(gpu: Gpu): Promise<Params> {
    const [data] = await gpu.read([{ src: this.buf, size: Math.max(this.size, 4) * 4 }]);
    const flat = new Float32Array(data!);
    const out: Params = new Map();
    for (const [name, { offset, length }] of this.layout) out.set(name, flat.slice(offset, offset + length));
    return out;
  }

  /** Destroys the buffers. */
  destroy(): void {
    this.buf.destroy();
    this.momentum.destroy();
    for (const m of this.#maps.values()) m.buf.destroy();
    for (const b of this.#slices.values()) b.destroy();
  }
}
