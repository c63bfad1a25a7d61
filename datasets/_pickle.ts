/**
 * Private, safe reader of the Python pickles that hold the downsampled-ImageNet files (Chrabaszcz et al. 2017):
 * a stack machine over the opcodes of protocols 0-4 that such files use (dicts, lists, tuples, ints, floats,
 * str/bytes, the memo, MARK, FRAME). It never runs code: GLOBAL / STACK_GLOBAL accept only a whitelist of numpy
 * and codec names, and the reader models each itself (no Python object is ever constructed):
 *
 * - `numpy.core.multiarray._reconstruct(numpy.ndarray, shape, typecode)` (also `numpy._core.multiarray`): an
 *   empty {@link PyArray}; BUILD with numpy's state `(version, shape, dtype, is_fortran, rawdata)` fills it.
 *   `rawdata` is a py2 `str` (BINSTRING / SHORT_BINSTRING / STRING), py3 `bytes` (BINBYTES*), or
 *   `_codecs.encode(text, "latin1")` (what Python 3 writes for bytes under protocols 0-2).
 * - `numpy.dtype(descr, align, copy)`: a {@link PyDType}; BUILD with numpy's dtype state sets the byte order.
 * - `numpy.core.multiarray.scalar(dtype, bytes)`: a numpy scalar, decoded to a JS number (bool, ints within
 *   safe integers, floats).
 * - `_codecs.encode(text, "latin1" | "latin-1")`: bytes.
 *
 * Anything else (another global, an unknown or unsupported opcode, a truncated file) is a
 * {@link DatasetError} naming the file, the byte offset and the opcode or global. Byte strings are returned
 * as views into the file's bytes (no copy), so a 98 MB `data` array costs no extra memory; only what must be
 * decoded (protocol 0 escapes, `_codecs.encode` of non-ASCII text) is copied.
 * @module
 */

import { DatasetError } from "./types.ts";

import {
  asText,
  describe,
  latin1,
  type PickleValue,
  PyArray,
  PyBytes,
  PyDict,
  PyDType,
  PyGlobal,
  PyText,
  PyTuple,
  readElement,
} from "./_pickle_values.ts";

/** Globals a pickle may name, mapped to the canonical name the reader models. */
const WHITELIST: Readonly<Record<string, string>> = {
  "numpy.core.multiarray._reconstruct": "numpy.core.multiarray._reconstruct",
  "numpy._core.multiarray._reconstruct": "numpy.core.multiarray._reconstruct",
  "numpy.ndarray": "numpy.ndarray",
  "numpy.dtype": "numpy.dtype",
  "numpy.core.multiarray.scalar": "numpy.core.multiarray.scalar",
  "numpy._core.multiarray.scalar": "numpy.core.multiarray.scalar",
  "_codecs.encode": "_codecs.encode",
};

/** Opcode names (all protocols, for messages), by byte. */
const OPCODE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries({
    MARK: "(",
    STOP: ".",
    POP: "0",
    POP_MARK: "1",
    DUP: "2",
    FLOAT: "F",
    INT: "I",
    BININT: "J",
    BININT1: "K",
    LONG: "L",
    BININT2: "M",
    NONE: "N",
    PERSID: "P",
    BINPERSID: "Q",
    REDUCE: "R",
    STRING: "S",
    BINSTRING: "T",
    SHORT_BINSTRING: "U",
    UNICODE: "V",
    BINUNICODE: "X",
    APPEND: "a",
    BUILD: "b",
    GLOBAL: "c",
    DICT: "d",
    EMPTY_DICT: "}",
    APPENDS: "e",
    GET: "g",
    BINGET: "h",
    INST: "i",
    LONG_BINGET: "j",
    LIST: "l",
    EMPTY_LIST: "]",
    OBJ: "o",
    PUT: "p",
    BINPUT: "q",
    LONG_BINPUT: "r",
    SETITEM: "s",
    TUPLE: "t",
    EMPTY_TUPLE: ")",
    SETITEMS: "u",
    BINFLOAT: "G",
    PROTO: "\x80",
    NEWOBJ: "\x81",
    EXT1: "\x82",
    EXT2: "\x83",
    EXT4: "\x84",
    TUPLE1: "\x85",
    TUPLE2: "\x86",
    TUPLE3: "\x87",
    NEWTRUE: "\x88",
    NEWFALSE: "\x89",
    LONG1: "\x8a",
    LONG4: "\x8b",
    BINBYTES: "B",
    SHORT_BINBYTES: "C",
    SHORT_BINUNICODE: "\x8c",
    BINUNICODE8: "\x8d",
    BINBYTES8: "\x8e",
    EMPTY_SET: "\x8f",
    ADDITEMS: "\x90",
    FROZENSET: "\x91",
    NEWOBJ_EX: "\x92",
    STACK_GLOBAL: "\x93",
    MEMOIZE: "\x94",
    FRAME: "\x95",
    BYTEARRAY8: "\x96",
    NEXT_BUFFER: "\x97",
    READONLY_BUFFER: "\x98",
  }).map(([name, ch]) => [ch.charCodeAt(0), name]),
);

/** Single-character escapes of Python string literals, by the byte after the backslash. */
const SIMPLE_ESCAPES: Readonly<Record<number, number>> = Object.fromEntries(
  Object.entries({
    "\\": 0x5c,
    "'": 0x27,
    '"': 0x22,
    n: 0x0a,
    t: 0x09,
    r: 0x0d,
    a: 0x07,
    b: 0x08,
    f: 0x0c,
    v: 0x0b,
  })
    .map(([c, v]) => [c.charCodeAt(0), v]),
);

/** Name of an opcode byte for messages: `BINPUT ('q')`, or `unknown opcode 0x..`. */
function opName(op: number): string {
  const name = OPCODE_NAMES[op];
  const shown = op >= 0x20 && op < 0x7f
    ? `'${String.fromCharCode(op)}'`
    : `0x${op.toString(16).padStart(2, "0")}`;
  return name === undefined ? `unknown opcode ${shown}` : `${name} (${shown})`;
}

/** Parses one pickle held in memory and returns its value; `file` names it in errors. */
export function parsePickle(bytes: Uint8Array, file: string): PickleValue {
  return new Machine(bytes, file).run();
}

/** The stack machine. */
class Machine {
  private at = 0;
  private stack: PickleValue[] = [];
  private marks: number[] = [];
  private memo = new Map<number, PickleValue>();
  /** Offset and opcode of the instruction being executed, for messages. */
  private opAt = 0;
  private op = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** An error about the current opcode: `FILE: MESSAGE at byte offset N (pickle opcode OP)[; HINT]`. */
  private fail(message: string, at = this.opAt, hint = ""): DatasetError {
    return new DatasetError(
      `${this.file}: ${message} at byte offset ${at} (pickle opcode ${opName(this.op)})${
        hint && `; ${hint}`
      }`,
      this.file,
      at,
    );
  }

  /** Reserves `n` bytes and returns where they start; a short file is a truncation error. */
  private take(n: number): number {
    if (!Number.isSafeInteger(n) || n < 0 || this.at + n > this.bytes.length) {
      throw this.fail(
        `truncated pickle: ${
          Number.isSafeInteger(n) ? n : "a huge number of"
        } bytes needed from byte offset ` +
          `${this.at}, ${this.bytes.length - this.at} left (file size ${this.bytes.length})`,
      );
    }
    const start = this.at;
    this.at += n;
    return start;
  }

  private u8(): number {
    return this.bytes[this.take(1)]!;
  }
  private u16(): number {
    return this.view.getUint16(this.take(2), true);
  }
  private i32(): number {
    return this.view.getInt32(this.take(4), true);
  }
  private u32(): number {
    return this.view.getUint32(this.take(4), true);
  }
  private u64(): number {
    const at = this.take(8);
    const lo = this.view.getUint32(at, true);
    const hi = this.view.getUint32(at + 4, true);
    return hi * 2 ** 32 + lo; // beyond 2^53 it is unsafe, and take() then refuses it
  }

  /** A view of the next `n` bytes. */
  private slice(n: number): Uint8Array {
    const start = this.take(n);
    return this.bytes.subarray(start, start + n);
  }

  /** The bytes up to the next newline (protocol 0 arguments), without it. */
  private line(): Uint8Array {
    const nl = this.bytes.indexOf(0x0a, this.at);
    if (nl < 0) throw this.fail(`truncated pickle: no end of line after byte offset ${this.at}`);
    const out = this.bytes.subarray(this.at, nl);
    this.at = nl + 1;
    return out;
  }

  private pop(): PickleValue {
    if (this.stack.length === 0 || (this.marks.length > 0 && this.stack.length <= this.marks.at(-1)!)) {
      throw this.fail("malformed pickle: the stack is empty");
    }
    return this.stack.pop()!;
  }

  private top(): PickleValue {
    if (this.stack.length === 0) throw this.fail("malformed pickle: the stack is empty");
    return this.stack[this.stack.length - 1]!;
  }

  /** Pops everything above the last MARK, and the mark. */
  private popMark(): PickleValue[] {
    const m = this.marks.pop();
    if (m === undefined) throw this.fail("malformed pickle: no MARK on the stack");
    return this.stack.splice(m);
  }

  private int(v: bigint | number): number {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw this.fail(`integer ${v} is outside the safe integer range`);
    return n;
  }

  /** Little-endian two's complement of `n` bytes. */
  private long(n: number): number {
    const b = this.slice(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (n > 0 && (b[n - 1]! & 0x80) !== 0) v -= 1n << BigInt(8 * n);
    return this.int(v);
  }

  private memoPut(index: number): void {
    this.memo.set(index, this.top());
  }

  private memoGet(index: number): PickleValue {
    if (!this.memo.has(index)) throw this.fail(`malformed pickle: memo entry ${index} was never stored`);
    return this.memo.get(index)!;
  }

  private global(module: string, name: string): PyGlobal {
    const full = `${module}.${name}`;
    const canonical = WHITELIST[full];
    if (canonical === undefined) {
      throw this.fail(
        `refused global ${full}`,
        this.opAt,
        "only numpy arrays, dtypes and scalars and _codecs.encode may appear in an ImageNet16 pickle " +
          "(nothing in a pickle is ever executed)",
      );
    }
    return new PyGlobal(canonical);
  }

  /** Decodes a protocol 0 text argument (ASCII) as a string. */
  private text(b: Uint8Array): string {
    return latin1(b);
  }

  /** Runs until STOP and returns the value on top of the stack. */
  run(): PickleValue {
    for (;;) {
      if (this.at >= this.bytes.length) {
        this.opAt = this.at;
        throw new DatasetError(
          `${this.file}: truncated pickle: ends at byte offset ${this.at} without a STOP opcode` +
            (this.at === 0 ? " (empty file)" : ""),
          this.file,
          this.at,
        );
      }
      this.opAt = this.at;
      this.op = this.bytes[this.at++]!;
      if (this.step()) {
        if (this.stack.length !== 1 || this.marks.length !== 0) {
          throw this.fail(`malformed pickle: STOP with ${this.stack.length} values on the stack`);
        }
        return this.stack[0]!;
      }
    }
  }

  /** Executes one opcode; true at STOP. */
  private step(): boolean {
    const s = this.stack;
    switch (this.op) {
      case 0x80: { // PROTO
        const p = this.u8();
        if (p > 5) throw this.fail(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95: { // FRAME: the frame's bytes follow inline; only check that they are there
        const n = this.u64();
        if (!Number.isSafeInteger(n) || this.at + n > this.bytes.length) {
          throw this.fail(`truncated pickle: frame of ${n} bytes, ${this.bytes.length - this.at} left`);
        }
        break;
      }
      case 0x2e: // STOP
        return true;
      case 0x28: // MARK
        this.marks.push(s.length);
        break;
      case 0x30: // POP
        if (this.marks.length > 0 && this.marks.at(-1) === s.length) this.marks.pop();
        else this.pop();
        break;
      case 0x31: // POP_MARK
        this.popMark();
        break;
      case 0x32: // DUP
        s.push(this.top());
        break;
      case 0x7d: // EMPTY_DICT
        s.push(new PyDict());
        break;
      case 0x64: { // DICT
        const items = this.popMark();
        const d = new PyDict();
        for (let i = 0; i + 1 < items.length; i += 2) d.entries.push([items[i]!, items[i + 1]!]);
        if (items.length % 2 !== 0) throw this.fail("malformed pickle: DICT with an odd number of items");
        s.push(d);
        break;
      }
      case 0x5d: // EMPTY_LIST
        s.push([]);
        break;
      case 0x6c: // LIST
        s.push(this.popMark());
        break;
      case 0x61: { // APPEND
        const v = this.pop();
        this.listTop().push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = this.popMark();
        const list = this.listTop();
        for (const v of items) list.push(v);
        break;
      }
      case 0x73: { // SETITEM
        const v = this.pop();
        const k = this.pop();
        this.dictTop().entries.push([k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = this.popMark();
        if (items.length % 2 !== 0) throw this.fail("malformed pickle: SETITEMS with an odd number of items");
        const d = this.dictTop();
        for (let i = 0; i < items.length; i += 2) d.entries.push([items[i]!, items[i + 1]!]);
        break;
      }
      case 0x74: // TUPLE
        s.push(new PyTuple(this.popMark()));
        break;
      case 0x29: // EMPTY_TUPLE
        s.push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: { // TUPLE3
        const n = this.op - 0x84;
        const items: PickleValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(this.pop());
        s.push(new PyTuple(items));
        break;
      }
      case 0x4a: // BININT
        s.push(this.i32());
        break;
      case 0x4b: // BININT1
        s.push(this.u8());
        break;
      case 0x4d: // BININT2
        s.push(this.u16());
        break;
      case 0x49: { // INT (protocol 0; "01" / "00" are True / False)
        const t = this.text(this.line()).trim();
        if (t === "01" || t === "00") s.push(t === "01");
        else if (/^[+-]?\d+$/.test(t)) s.push(this.int(BigInt(t)));
        else throw this.fail(`malformed INT argument ${JSON.stringify(t)}`);
        break;
      }
      case 0x4c: { // LONG (protocol 0, "123L")
        const t = this.text(this.line()).trim().replace(/L$/, "");
        if (!/^[+-]?\d+$/.test(t)) throw this.fail(`malformed LONG argument ${JSON.stringify(t)}`);
        s.push(this.int(BigInt(t)));
        break;
      }
      case 0x8a: // LONG1
        s.push(this.long(this.u8()));
        break;
      case 0x8b: { // LONG4
        const n = this.i32();
        if (n < 0) throw this.fail(`malformed pickle: negative LONG4 size ${n}`);
        s.push(this.long(n));
        break;
      }
      case 0x47: // BINFLOAT (big-endian float64)
        s.push(this.view.getFloat64(this.take(8), false));
        break;
      case 0x46: { // FLOAT (protocol 0)
        const t = this.text(this.line()).trim();
        const v = Number(t);
        if (t === "" || (Number.isNaN(v) && t.toLowerCase() !== "nan")) {
          throw this.fail(`malformed FLOAT argument ${JSON.stringify(t)}`);
        }
        s.push(v);
        break;
      }
      case 0x4e: // NONE
        s.push(null);
        break;
      case 0x88: // NEWTRUE
        s.push(true);
        break;
      case 0x89: // NEWFALSE
        s.push(false);
        break;
      case 0x58: // BINUNICODE
        s.push(this.unicode(this.u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        s.push(this.unicode(this.u8()));
        break;
      case 0x8d: // BINUNICODE8
        s.push(this.unicode(this.u64()));
        break;
      case 0x56: // UNICODE (protocol 0, raw-unicode-escape)
        s.push(rawUnicodeEscape(this.line()));
        break;
      case 0x54: { // BINSTRING (py2 str; signed 4-byte length)
        const n = this.i32();
        if (n < 0) throw this.fail(`malformed pickle: negative BINSTRING size ${n}`);
        s.push(this.bytesValue(n));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        s.push(this.bytesValue(this.u8()));
        break;
      case 0x53: // STRING (protocol 0, a quoted Python literal)
        s.push(new PyBytes(this.stringLiteral(this.line()), -1));
        break;
      case 0x42: // BINBYTES
        s.push(this.bytesValue(this.u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        s.push(this.bytesValue(this.u8()));
        break;
      case 0x8e: // BINBYTES8
        s.push(this.bytesValue(this.u64()));
        break;
      case 0x63: { // GLOBAL
        const module = this.text(this.line());
        const name = this.text(this.line());
        s.push(this.global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = asText(this.pop());
        const module = asText(this.pop());
        if (name === null || module === null) throw this.fail("malformed pickle: STACK_GLOBAL needs two str");
        s.push(this.global(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = this.pop();
        const callable = this.pop();
        if (!(args instanceof PyTuple)) {
          throw this.fail(`REDUCE arguments must be a tuple, got ${describe(args)}`);
        }
        s.push(this.call(callable, args.items));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = this.pop();
        const cls = this.pop();
        if (!(args instanceof PyTuple)) {
          throw this.fail(`NEWOBJ arguments must be a tuple, got ${describe(args)}`);
        }
        if (!(cls instanceof PyGlobal) || cls.name !== "numpy.dtype") {
          throw this.fail(`NEWOBJ of ${describe(cls)} is not supported (only numpy.dtype)`);
        }
        s.push(this.call(cls, args.items));
        break;
      }
      case 0x62: { // BUILD
        const state = this.pop();
        this.build(this.top(), state);
        break;
      }
      case 0x70: { // PUT
        const t = this.text(this.line()).trim();
        if (!/^\d+$/.test(t)) throw this.fail(`malformed PUT argument ${JSON.stringify(t)}`);
        this.memoPut(Number(t));
        break;
      }
      case 0x71: // BINPUT
        this.memoPut(this.u8());
        break;
      case 0x72: // LONG_BINPUT
        this.memoPut(this.u32());
        break;
      case 0x94: // MEMOIZE
        this.memoPut(this.memo.size);
        break;
      case 0x67: { // GET
        const t = this.text(this.line()).trim();
        if (!/^\d+$/.test(t)) throw this.fail(`malformed GET argument ${JSON.stringify(t)}`);
        s.push(this.memoGet(Number(t)));
        break;
      }
      case 0x68: // BINGET
        s.push(this.memoGet(this.u8()));
        break;
      case 0x6a: // LONG_BINGET
        s.push(this.memoGet(this.u32()));
        break;
      default:
        throw this.fail(
          OPCODE_NAMES[this.op] === undefined
            ? "not a pickle or a corrupt one: unknown opcode"
            : "unsupported opcode (not used by numpy array pickles; refused)",
        );
    }
    return false;
  }

  private listTop(): PickleValue[] {
    const t = this.top();
    if (!Array.isArray(t)) throw this.fail(`APPEND to ${describe(t)}, not a list`);
    return t;
  }

  private dictTop(): PyDict {
    const t = this.top();
    if (!(t instanceof PyDict)) throw this.fail(`SETITEM on ${describe(t)}, not a dict`);
    return t;
  }

  /** `n` bytes as a {@link PyBytes} view. */
  private bytesValue(n: number): PyBytes {
    const start = this.take(n);
    return new PyBytes(this.bytes.subarray(start, start + n), start);
  }

  /** A `str` of `n` UTF-8 bytes: long ones stay bytes (a {@link PyText}) until needed. */
  private unicode(n: number): string | PyText {
    const start = this.take(n);
    const b = this.bytes.subarray(start, start + n);
    return n > 4096 ? new PyText(b, "utf-8") : new TextDecoder("utf-8", { fatal: false }).decode(b);
  }

  /** A protocol 0 STRING argument: a quoted Python 2 literal with backslash escapes. */
  private stringLiteral(b: Uint8Array): Uint8Array {
    const q = b[0];
    if (b.length < 2 || (q !== 0x27 && q !== 0x22) || b[b.length - 1] !== q) {
      throw this.fail("malformed STRING argument (not a quoted literal)");
    }
    const out = new Uint8Array(b.length); // escapes only shrink the text
    let o = 0;
    const end = b.length - 1;
    const hex = (c: number | undefined) => c === undefined ? -1 : hexDigit(c);
    for (let i = 1; i < end; i++) {
      const c = b[i]!;
      if (c !== 0x5c || i + 1 >= end) {
        out[o++] = c;
        continue;
      }
      const e = b[++i]!;
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) out[o++] = simple;
      else if (e === 0x78) { // \xhh
        const h1 = hex(i + 1 < end ? b[i + 1] : undefined);
        const h2 = hex(i + 2 < end ? b[i + 2] : undefined);
        if (h1 < 0 || h2 < 0) throw this.fail("malformed \\x escape in a STRING argument");
        out[o++] = h1 * 16 + h2;
        i += 2;
      } else if (e >= 0x30 && e <= 0x37) { // octal, up to 3 digits
        let v = e - 0x30;
        for (let d = 0; d < 2 && i + 1 < end && b[i + 1]! >= 0x30 && b[i + 1]! <= 0x37; d++) {
          v = v * 8 + b[++i]! - 0x30;
        }
        out[o++] = v & 255;
      } else {
        out[o++] = 0x5c; // unknown escapes stay as written, as in Python
        out[o++] = e;
      }
    }
    return out.subarray(0, o);
  }

  /** Models a call of a whitelisted global (REDUCE / NEWOBJ). */
  private call(callable: PickleValue, args: PickleValue[]): PickleValue {
    if (!(callable instanceof PyGlobal)) throw this.fail(`cannot call ${describe(callable)}`);
    switch (callable.name) {
      case "numpy.core.multiarray._reconstruct": {
        const [cls] = args;
        if (!(cls instanceof PyGlobal) || cls.name !== "numpy.ndarray") {
          throw this.fail(`_reconstruct of ${describe(cls)} is not supported (only numpy.ndarray)`);
        }
        return new PyArray(this.opAt);
      }
      case "numpy.dtype": {
        const descr = asText(args[0]) ?? (args[0] instanceof PyBytes ? latin1(args[0].bytes) : null);
        if (descr === null) throw this.fail(`numpy.dtype of ${describe(args[0])} is not supported`);
        return new PyDType(descr);
      }
      case "numpy.core.multiarray.scalar":
        return this.scalar(args[0], args[1]);
      case "_codecs.encode": {
        const enc = asText(args[1])?.toLowerCase().replace("_", "-");
        if (enc !== "latin1" && enc !== "latin-1" && enc !== "iso-8859-1") {
          throw this.fail(`_codecs.encode with encoding ${describe(args[1])} is not supported (only latin1)`);
        }
        const t = args[0];
        if (t instanceof PyText) {
          if (t.encoding === "latin-1") return new PyBytes(t.data, -1);
          return new PyBytes(
            utf8ToLatin1(t.data, () => this.fail("_codecs.encode: text is not latin-1")),
            -1,
          );
        }
        if (typeof t === "string") {
          const out = new Uint8Array(t.length);
          for (let i = 0; i < t.length; i++) {
            const c = t.charCodeAt(i);
            if (c > 255) throw this.fail("_codecs.encode: text is not latin-1");
            out[i] = c;
          }
          return new PyBytes(out, -1);
        }
        throw this.fail(`_codecs.encode of ${describe(t)} is not supported`);
      }
      default:
        throw this.fail(`calling ${callable.name} is not supported`);
    }
  }

  /** numpy's scalar(dtype, raw bytes) as a JS number. */
  private scalar(dtype: PickleValue | undefined, raw: PickleValue | undefined): number | boolean {
    if (!(dtype instanceof PyDType) || !(raw instanceof PyBytes)) {
      throw this.fail(`numpy scalar of (${describe(dtype)}, ${describe(raw)}) is not supported`);
    }
    const v = readElement(dtype, raw.bytes, 0);
    if (v === null || raw.bytes.length !== dtype.itemsize) {
      throw this.fail(`numpy scalar of dtype ${dtype} with ${raw.bytes.length} bytes is not supported`);
    }
    if (typeof v === "bigint") return this.int(v);
    return v;
  }

  /** BUILD: numpy's __setstate__ for arrays and dtypes. */
  private build(target: PickleValue, state: PickleValue): void {
    if (target instanceof PyDType) {
      // dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
      if (!(state instanceof PyTuple)) throw this.fail(`dtype state must be a tuple, got ${describe(state)}`);
      const order = asText(state.items[1]) ??
        (state.items[1] instanceof PyBytes ? latin1(state.items[1].bytes) : null);
      if (order !== null) target.byteorder = order;
      if (state.items.length > 3 && state.items[3] !== null) {
        throw this.fail("structured numpy dtypes (with field names) are not supported");
      }
      return;
    }
    if (target instanceof PyArray) {
      if (!(state instanceof PyTuple)) {
        throw this.fail(`ndarray state must be a tuple, got ${describe(state)}`);
      }
      // (version, shape, dtype, is_fortran, rawdata); numpy also reads the 4-tuple without the version
      const items = state.items.length === 5 ? state.items.slice(1) : state.items;
      const [shape, dtype, fortran, raw] = items;
      if (items.length !== 4 || !(shape instanceof PyTuple) || !(dtype instanceof PyDType)) {
        throw this.fail(`unsupported ndarray state (${state.items.map(describe).join(", ")})`);
      }
      const dims = shape.items.map((d) => {
        if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
          throw this.fail(`bad ndarray dimension ${describe(d)}`);
        }
        return d;
      });
      let data: PyBytes;
      if (raw instanceof PyBytes) data = raw;
      else if (typeof raw === "string" || raw instanceof PyText) {
        // py2 str unpickled as text: a latin-1 string holds the bytes
        data = this.call(new PyGlobal("_codecs.encode"), [raw, "latin1"]) as PyBytes;
      } else throw this.fail(`ndarray data must be bytes, got ${describe(raw)} (object arrays are refused)`);
      const count = dims.reduce((a, b) => a * b, 1);
      if (count * dtype.itemsize !== data.bytes.length) {
        throw this.fail(
          `ndarray of shape (${dims.join(", ")}) and dtype ${dtype} needs ${count * dtype.itemsize} bytes, ` +
            `the pickle holds ${data.bytes.length}`,
        );
      }
      target.shape = dims;
      target.dtype = dtype;
      target.fortran = fortran === true || fortran === 1;
      target.data = data.bytes;
      target.dataOffset = data.offset;
      return;
    }
    throw this.fail(`BUILD of ${describe(target)} is not supported`);
  }
}

/**
 * Protocol 0 UNICODE argument: latin-1 bytes with `\\uXXXX` / `\\UXXXXXXXX` escapes (no other escapes). Long text
 * whose code points are all below 256 (what Python 3 writes for bytes) becomes a latin-1 {@link PyText}.
 */
function rawUnicodeEscape(b: Uint8Array): string | PyText {
  const units = new Uint16Array(b.length); // escapes only shrink the text (\\U: 10 bytes -> 2 units)
  let o = 0;
  let i = 0;
  let max = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c === 0x5c && (b[i + 1] === 0x75 || b[i + 1] === 0x55)) {
      const len = b[i + 1] === 0x75 ? 4 : 8;
      let cp = i + 2 + len <= b.length ? 0 : -1;
      for (let k = 0; k < len && cp >= 0; k++) {
        const h = hexDigit(b[i + 2 + k]!);
        cp = h < 0 ? -1 : cp * 16 + h;
      }
      if (cp >= 0 && cp <= 0x10ffff) {
        const s = String.fromCodePoint(cp);
        for (let k = 0; k < s.length; k++) units[o++] = s.charCodeAt(k);
        max = Math.max(max, cp);
        i += 2 + len;
        continue;
      }
    }
    units[o++] = c;
    if (c > max) max = c;
    i++;
  }
  const text = units.subarray(0, o);
  if (o > 4096 && max < 256) return new PyText(Uint8Array.from(text), "latin-1");
  return new TextDecoder("utf-16le").decode(text);
}

/** Value of a hexadecimal digit's byte, or -1. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/**
 * UTF-8 text whose code points are all < 256, as those code points (latin-1 bytes): what `_codecs.encode(s,
 * 'latin1')` makes of the text Python 3 pickles for bytes. ASCII-only text is returned as a view (no copy).
 */
function utf8ToLatin1(utf8: Uint8Array, bad: () => Error): Uint8Array {
  let i = 0;
  while (i < utf8.length && utf8[i]! < 0x80) i++;
  if (i === utf8.length) return utf8;
  const out = new Uint8Array(utf8.length);
  out.set(utf8.subarray(0, i));
  let o = i;
  while (i < utf8.length) {
    const c = utf8[i]!;
    if (c < 0x80) {
      out[o++] = c;
      i++;
    } else if ((c === 0xc2 || c === 0xc3) && i + 1 < utf8.length && (utf8[i + 1]! & 0xc0) === 0x80) {
      out[o++] = ((c & 0x03) << 6) | (utf8[i + 1]! & 0x3f);
      i += 2;
    } else throw bad();
  }
  return out.subarray(0, o);
}
