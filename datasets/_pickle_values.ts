/**
 * Private value model of the pickle reader (`_pickle.ts`): what a whitelisted pickle can hold, as plain
 * TypeScript objects (no Python object is ever built), plus helpers that read them.
 * @module
 */

/** A Python `bytes` (or py2 `str`) value; `bytes` is a view into the file when `offset` >= 0. */
export class PyBytes {
  /** Wraps `bytes`; `offset` is where they start in the file, or -1 when they were computed. */
  constructor(readonly bytes: Uint8Array, readonly offset: number) {}
}

/**
 * A long Python `str` kept undecoded until something needs it: its UTF-8 bytes (BINUNICODE*, a view into the
 * file) or its code points when all are below 256 (`latin-1`, from protocol 0 UNICODE).
 */
export class PyText {
  /** Wraps the text's bytes in `encoding`. */
  constructor(readonly data: Uint8Array, readonly encoding: "utf-8" | "latin-1") {}
}

/** A Python tuple. */
export class PyTuple {
  /** Wraps the items. */
  constructor(readonly items: PickleValue[]) {}
}

/** A Python dict as its (key, value) pairs in insertion order (later duplicates override earlier ones). */
export class PyDict {
  /** The pairs, in order. */
  readonly entries: [PickleValue, PickleValue][] = [];

  /** The value of the `str` / `bytes` key `name`, or undefined. */
  get(name: string): PickleValue | undefined {
    let found: PickleValue | undefined;
    for (const [k, v] of this.entries) if (keyName(k) === name) found = v;
    return found;
  }

  /** The keys as text, for messages. */
  keyNames(): string[] {
    return this.entries.map(([k]) => keyName(k) ?? describe(k));
  }
}

/** A whitelisted global, by its canonical name (`numpy._core` spelled `numpy.core`). */
export class PyGlobal {
  /** Wraps the canonical name, e.g. `numpy.dtype`. */
  constructor(readonly name: string) {}
}

/** A numpy dtype: descr such as `u1`, `i8`, `f8` plus the byte order from its BUILD state. */
export class PyDType {
  /** `byteorder` is `<`, `>`, `|` or `=` (native = little-endian here). */
  constructor(readonly descr: string, public byteorder = "=") {}

  /** Kind character (`b`, `i`, `u`, `f`, ...) of the descr. */
  get kind(): string {
    return this.descr.replace(/^[<>|=]/, "").charAt(0);
  }

  /** Bytes per item, from the descr's digits (NaN when it has none). */
  get itemsize(): number {
    const m = /(\d+)$/.exec(this.descr);
    return m === null ? NaN : Number(m[1]);
  }

  /** True for big-endian data. */
  get bigEndian(): boolean {
    return this.byteorder === ">" || this.descr.startsWith(">");
  }

  /** `uint8`, `int64`, ... for messages. */
  toString(): string {
    const names: Record<string, string> = { b: "bool", i: "int", u: "uint", f: "float", c: "complex" };
    const k = names[this.kind];
    return k === undefined ? `dtype('${this.descr}')` : k === "bool" ? k : `${k}${this.itemsize * 8}`;
  }
}

/** A numpy ndarray: shape, dtype and its raw bytes (C order unless `fortran`). */
export class PyArray {
  /** Shape; `[0]` until BUILD. */
  shape: number[] = [0];
  /** Element type; null until BUILD. */
  dtype: PyDType | null = null;
  /** True when the bytes are in Fortran (column-major) order. */
  fortran = false;
  /** The raw bytes, a view into the file where possible. */
  data: Uint8Array = new Uint8Array(0);
  /** Byte offset of `data` in the file, -1 when computed. */
  dataOffset = -1;
  /** Byte offset of the opcode that made the array. */
  constructor(readonly offset: number) {}
}

/** Values the reader produces. Python ints and floats are JS numbers; `str` is a string or a {@link PyText}. */
export type PickleValue =
  | null
  | boolean
  | number
  | string
  | PickleValue[]
  | PyBytes
  | PyText
  | PyTuple
  | PyDict
  | PyGlobal
  | PyDType
  | PyArray;

/** The text of a `str` value (decoding a {@link PyText}), or null for anything else. */
export function asText(v: PickleValue | undefined): string | null {
  if (typeof v === "string") return v;
  if (v instanceof PyText) return v.encoding === "utf-8" ? new TextDecoder().decode(v.data) : latin1(v.data);
  return null;
}

/** A dict key as text: a `str`, or py2 `str` / `bytes` read as latin-1 (as `encoding='latin1'` does). */
function keyName(k: PickleValue): string | null {
  if (k instanceof PyBytes) return k.bytes.length > 256 ? null : latin1(k.bytes);
  return asText(k);
}

/** Bytes as latin-1 text. */
export function latin1(b: Uint8Array): string {
  return fromCodeUnits(b);
}

/** A short description of a value for messages: `int 5`, `list of 3`, `ndarray uint8 (2, 768)`. */
export function describe(v: PickleValue | undefined): string {
  if (v === undefined) return "nothing";
  if (v === null) return "None";
  if (typeof v === "boolean") return `bool ${v ? "True" : "False"}`;
  if (typeof v === "number") return Number.isInteger(v) ? `int ${v}` : `float ${v}`;
  if (typeof v === "string" || v instanceof PyText) {
    const t = asText(v)!;
    return `str ${JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}...` : t)}`;
  }
  if (Array.isArray(v)) return `list of ${v.length}`;
  if (v instanceof PyBytes) return `bytes of length ${v.bytes.length}`;
  if (v instanceof PyTuple) return `tuple of ${v.items.length}`;
  if (v instanceof PyDict) return `dict with keys ${v.keyNames().join(", ")}`;
  if (v instanceof PyGlobal) return `global ${v.name}`;
  if (v instanceof PyDType) return `dtype ${v}`;
  return `ndarray ${v.dtype ?? "(no dtype)"} (${v.shape.join(", ")}${v.shape.length === 1 ? "," : ""})`;
}

/** Element `i` of raw numpy data: a number (floats, small ints), a bigint (8-byte ints), a boolean, or null. */
export function readElement(dtype: PyDType, raw: Uint8Array, i: number): number | bigint | boolean | null {
  const size = dtype.itemsize;
  const at = i * size;
  if (at + size > raw.length) return null;
  const v = new DataView(raw.buffer, raw.byteOffset + at, size);
  const le = !dtype.bigEndian;
  switch (`${dtype.kind}${size}`) {
    case "b1":
      return v.getUint8(0) !== 0;
    case "u1":
      return v.getUint8(0);
    case "i1":
      return v.getInt8(0);
    case "u2":
      return v.getUint16(0, le);
    case "i2":
      return v.getInt16(0, le);
    case "u4":
      return v.getUint32(0, le);
    case "i4":
      return v.getInt32(0, le);
    case "u8":
      return v.getBigUint64(0, le);
    case "i8":
      return v.getBigInt64(0, le);
    case "f4":
      return v.getFloat32(0, le);
    case "f8":
      return v.getFloat64(0, le);
    default:
      return null;
  }
}

/** A string from UTF-16 code units (or latin-1 bytes), in chunks (no per-character concatenation). */
export function fromCodeUnits(u: Uint16Array | Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < u.length; i += 8192) parts.push(String.fromCharCode(...u.subarray(i, i + 8192)));
  return parts.join("");
}
