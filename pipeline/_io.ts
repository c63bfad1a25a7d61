/**
 * Artifact I/O shared by every stage: atomic writes, JSONL with sorted keys, CSV via papaparse, fixed float
 * formatting, SHA-256 of inputs, the run manifest and the separate metrics (timings) file.
 *
 * Everything written here is byte-stable: LF line endings, sorted JSON keys, fixed column order, fixed float
 * digits, no timestamps (except in the metrics file, which is not a result artifact).
 *
 * @module
 */

// @ts-types="@types/papaparse"
import Papa from "papaparse";
import { dirname, join } from "node:path";
import { DataError, UsageError } from "./_errors.ts";

// ---------------------------------------------------------------------------------------------------------
// Files

/**
 * Reads a UTF-8 text file given by the user. A missing file becomes a {@linkcode UsageError} that names
 * `path` (and `what`, e.g. `"--in"`), so the CLI prints one line instead of a stack trace.
 */
export async function readTextInput(path: string, what = "input file"): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`${what} not found: ${path}`, { cause: err });
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new UsageError(`${what} is a directory, not a file: ${path}`, { cause: err });
    }
    throw err;
  }
}

/** Throws a {@linkcode UsageError} naming `forPath` unless `dir` exists and is a directory. */
async function requireDirectory(dir: string, forPath: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`output folder does not exist: ${dir} (for ${forPath})`, { cause: err });
    }
    throw err;
  }
  if (!info.isDirectory) {
    throw new UsageError(`output folder is not a directory: ${dir} (for ${forPath})`);
  }
}

/**
 * Writes `text` (UTF-8, written exactly as given; the serialisers here emit LF line endings) to `path`
 * atomically: first to `<path>.tmp-<pid>` in the same folder, then renamed over `path`, so a killed run never
 * leaves a torn file. The temporary file is removed if writing or renaming fails.
 *
 * @throws {UsageError} naming `path` when its folder does not exist (nothing is written then).
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await requireDirectory(dirname(path), path);
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// JSON / JSONL

/** Any value that survives a JSON round trip. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function serialize(value: unknown, indent: string, current: string): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      throw new TypeError("stableStringify: BigInt is not JSON serialisable");
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === "function") {
    return serialize(withToJson.toJSON(), indent, current);
  }
  const inner = current + indent;
  const open = indent === "" ? "" : `\n${inner}`;
  const sep = indent === "" ? "," : `,\n${inner}`;
  const close = indent === "" ? "" : `\n${current}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.map((item) => serialize(item, indent, inner) ?? "null");
    return `[${open}${items.join(sep)}${close}]`;
  }
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const text = serialize(obj[key], indent, inner);
    if (text === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${indent === "" ? "" : " "}${text}`);
  }
  if (parts.length === 0) return "{}";
  return `{${open}${parts.join(sep)}${close}}`;
}

/**
 * `JSON.stringify` with object keys sorted recursively (by UTF-16 code units, like Python's
 * `sort_keys=True`, so `"10"` sorts before `"5"`). Non-finite numbers become `null` and `undefined` members
 * are dropped, as in `JSON.stringify`. `indent` is the number of spaces per level (0 = one line).
 *
 * @example
 * ```ts
 * import { stableStringify } from "./_io.ts";
 * stableStringify({ b: 1, a: { d: 2, c: 3 } }); // '{"a":{"c":3,"d":2},"b":1}'
 * ```
 */
export function stableStringify(value: unknown, indent = 0): string {
  const text = serialize(value, " ".repeat(indent), "");
  if (text === undefined) throw new TypeError("stableStringify: value is not JSON serialisable");
  return text;
}

/** Serialises records as JSON Lines: one sorted-key JSON object per line, LF endings, trailing newline. */
export function toJsonl(records: readonly unknown[]): string {
  return records.map((record) => stableStringify(record) + "\n").join("");
}

/**
 * Parses JSON Lines text. Blank lines are skipped; CRLF and a leading BOM are tolerated. Every other line
 * must be a JSON object.
 *
 * @throws {DataError} `<path>:<line>: ...` on a line that is not valid JSON or not an object.
 */
export function parseJsonl(path: string, text: string): Record<string, unknown>[] {
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  const records: Record<string, unknown>[] = [];
  lines.forEach((raw, i) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new DataError(`${path}:${i + 1}: invalid JSON: ${reason}`, { cause: err });
    }
    if (!isPlainObject(value)) {
      const kind = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
      throw new DataError(`${path}:${i + 1}: expected a JSON object, got ${kind}`);
    }
    records.push(value);
  });
  return records;
}

/** Reads a JSON Lines file; see {@linkcode parseJsonl} for the format and errors. */
export async function readJsonl(path: string): Promise<Record<string, unknown>[]> {
  return parseJsonl(path, await readTextInput(path));
}

/**
 * Rounds every non-integer finite number inside `value` (recursively through arrays and objects) to
 * `digits` decimals, turning `-0` into `0`. Integers, non-finite numbers and other values are kept.
 * Used so that JSON results do not carry float noise in their last digits.
 */
export function roundFloats<T>(value: T, digits = 6): T {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || Number.isInteger(value)) return value;
    const rounded = Number(value.toFixed(digits));
    return (rounded === 0 ? 0 : rounded) as T;
  }
  if (Array.isArray(value)) return value.map((item) => roundFloats(item, digits)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = roundFloats(item, digits);
    return out as T;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// CSV

/** A parsed CSV file: header columns, data rows as column -> string, and each row's 1-based file line. */
export interface CsvTable {
  /** The file the table came from (for error messages). */
  path: string;
  /** Header columns in file order. */
  columns: string[];
  /** Data rows; every row has every column. */
  rows: Record<string, string>[];
  /** `lines[i]` is the 1-based line where `rows[i]` starts in the file. */
  lines: number[];
}

/**
 * Parses CSV text with papaparse: the first row is the header, every field stays a string, blank lines are
 * skipped, a leading BOM is dropped. Quoted fields may contain commas, quotes and newlines.
 *
 * @throws {DataError} `<path>:1: missing column(s) "a", "b"; available columns: ...` when a required column
 *   is absent; `<path>:<line>: ...` for a row with the wrong number of fields or a quoting error; also for an
 *   empty file or duplicate header names.
 */
export function parseCsv(path: string, text: string, requiredColumns: readonly string[]): CsvTable {
  const body = text.replace(/^\uFEFF/, "");
  const records: { data: string[]; line: number }[] = [];
  let cursor = 0;
  let line = 1;
  let failure: DataError | undefined;
  Papa.parse<string[]>(body, {
    header: false,
    delimiter: ",",
    dynamicTyping: false,
    skipEmptyLines: false,
    step: (result, parser) => {
      const start = line;
      const end = result.meta.cursor;
      for (let i = body.indexOf("\n", cursor); i !== -1 && i < end; i = body.indexOf("\n", i + 1)) line++;
      cursor = end;
      const error = result.errors[0];
      if (error !== undefined) {
        failure = new DataError(`${path}:${start}: ${error.message}`);
        parser.abort();
        return;
      }
      const data = result.data;
      if (data.length === 1 && data[0] === "") return;
      records.push({ data, line: start });
    },
  });
  if (failure !== undefined) throw failure;
  const header = records.shift();
  if (header === undefined) throw new DataError(`${path}: empty CSV file (no header row)`);
  const columns = header.data;
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column)) throw new DataError(`${path}:${header.line}: duplicate column "${column}"`);
    seen.add(column);
  }
  const missing = requiredColumns.filter((column) => !seen.has(column));
  if (missing.length > 0) {
    const names = missing.map((column) => `"${column}"`).join(", ");
    throw new DataError(
      `${path}:${header.line}: missing column${missing.length > 1 ? "s" : ""} ${names}; ` +
        `available columns: ${columns.join(", ")}`,
    );
  }
  const rows: Record<string, string>[] = [];
  const lines: number[] = [];
  for (const { data, line: rowLine } of records) {
    if (data.length !== columns.length) {
      throw new DataError(
        `${path}:${rowLine}: expected ${columns.length} fields (${
          columns.join(",")
        }) but found ${data.length}`,
      );
    }
    rows.push(Object.fromEntries(columns.map((column, i) => [column, data[i] ?? ""])));
    lines.push(rowLine);
  }
  return { path, columns, rows, lines };
}

/** Reads and parses a CSV file; see {@linkcode parseCsv}. A missing file is a {@linkcode UsageError}. */
export async function readCsv(path: string, requiredColumns: readonly string[]): Promise<CsvTable> {
  return parseCsv(path, await readTextInput(path), requiredColumns);
}

/** A CSV cell value: a string written as is, or a safe integer (floats must go through `formatFloat`). */
export type CsvValue = string | number;

function csvField(text: string): string {
  if (/[",\r\n]/.test(text) || text !== text.trim()) return `"${text.replaceAll('"', '""')}"`;
  return text;
}

/**
 * Serialises rows as CSV with the given fixed column order: a header line, one line per row, LF endings and a
 * trailing newline. A field is quoted only when it contains a comma, quote, CR/LF or leading/trailing
 * whitespace. Numbers must be safe integers, so float formatting is always explicit (`formatFloat`).
 *
 * @throws {Error} when a row lacks a column or holds a non-integer number (a programming error).
 */
export function toCsv(
  columns: readonly string[],
  rows: readonly Readonly<Record<string, CsvValue>>[],
): string {
  const out = [columns.map(csvField).join(",") + "\n"];
  rows.forEach((row, r) => {
    const cells = columns.map((column) => {
      const value = row[column];
      if (value === undefined) throw new Error(`toCsv: row ${r} has no column "${column}"`);
      if (typeof value === "number") {
        if (!Number.isSafeInteger(value)) {
          throw new Error(`toCsv: row ${r} column "${column}" is ${value}; format floats with formatFloat`);
        }
        return String(value);
      }
      return csvField(value);
    });
    out.push(cells.join(",") + "\n");
  });
  return out.join("");
}

// ---------------------------------------------------------------------------------------------------------
// Numbers

/** Writes |x| >= 1e21 (an integer) as plain digits from its shortest round-trip form: 2.5e22 -> "25" + 21 zeros. */
function expandLarge(x: number): string {
  const [mantissa = "", exponent = "0"] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const zeros = Number(exponent) - (digits.length - 1);
  return (x < 0 ? "-" : "") + digits + "0".repeat(Math.max(0, zeros));
}

/**
 * Formats `x` with exactly `digits` decimals (`toFixed` rounding of the binary value; values of 1e21 and more,
 * where `toFixed` would switch to exponent notation, are written as the plain digits of their shortest
 * round-trip form). Never prints `-0`: values that round to zero are written unsigned. Non-finite
 * values are written `inf`, `-inf`, `nan`.
 *
 * @example
 * ```ts
 * import { formatFloat } from "./_io.ts";
 * formatFloat(-0.0000001, 3); // "0.000"
 * formatFloat(-Infinity, 6); // "-inf"
 * ```
 */
export function formatFloat(x: number, digits: number): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 100) {
    throw new RangeError(`formatFloat: digits must be an integer in 0..100, got ${digits}`);
  }
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  let text = Math.abs(x) < 1e21
    ? x.toFixed(digits)
    : expandLarge(x) + (digits > 0 ? "." + "0".repeat(digits) : "");
  if (/^-[0.]+$/.test(text)) text = text.slice(1);
  return text;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses a float field as written by {@linkcode formatFloat} (or any plain decimal / exponent number).
 * Accepts `inf`, `+inf`, `-inf`, `infinity` and `nan` in any case; surrounding whitespace is ignored.
 *
 * @throws {DataError} `<where>: expected a number ...` for anything else, including an empty field.
 */
export function parseFloatField(text: string, where = "value"): number {
  const t = text.trim();
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (special !== null) {
    if ((special[2] ?? "").toLowerCase() === "nan") return NaN;
    return special[1] === "-" ? -Infinity : Infinity;
  }
  if (DECIMAL.test(t)) return Number(t);
  throw new DataError(`${where}: expected a number (or inf, -inf, nan), got "${text}"`);
}

/**
 * Parses a safe integer field (optional sign, decimal digits, surrounding whitespace ignored).
 *
 * @throws {DataError} `<where>: expected an integer ...` otherwise.
 */
export function parseIntField(text: string, where = "value"): number {
  const t = text.trim();
  const value = Number(t);
  if (!/^[+-]?\d+$/.test(t) || !Number.isSafeInteger(value)) {
    throw new DataError(`${where}: expected an integer, got "${text}"`);
  }
  return value === 0 ? 0 : value;
}

// ---------------------------------------------------------------------------------------------------------
// Hashes, manifest, metrics

/** Lower-case hex SHA-256 of bytes or of a string's UTF-8 encoding (Web Crypto). */
export async function sha256Hex(data: Uint8Array<ArrayBuffer> | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Lower-case hex SHA-256 of a file's bytes.
 *
 * @throws {UsageError} naming `path` when the file does not exist.
 */
export async function sha256File(path: string): Promise<string> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new UsageError(`input file not found: ${path}`, { cause: err });
    }
    throw err;
  }
  return await sha256Hex(bytes);
}

/** Schema version written into `manifest.json`. */
export const MANIFEST_SCHEMA = 1;

/** File name of the run manifest inside a run directory. */
export const MANIFEST_NAME = "manifest.json";

/** What a stage records about its run in `manifest.json`. */
export interface ManifestInfo {
  /** The command line (argv after the program), as run. */
  command: readonly string[];
  /** Stage name, e.g. `"rank"`. */
  stage: string;
  /** Versions of the tool and runtime, e.g. `{untrained: "0.1.0", deno: Deno.version.deno}`. */
  versions: Readonly<Record<string, string>>;
  /** Every seed that influences the result, by role. */
  seeds: Readonly<Record<string, number | readonly number[]>>;
  /** Input files; each is hashed (SHA-256) and its size recorded. */
  inputs: readonly { path: string }[];
  /** Every other parameter that influences the result. */
  params: Readonly<Record<string, unknown>>;
}

/**
 * Records a stage's run in `<dir>/manifest.json` atomically: `{schema: 1, stages: {<stage>: {command,
 * versions, seeds, inputs: [{path, sha256, bytes}], params}}}` with sorted keys, 2-space indent and a trailing
 * newline. Stages run into the same folder share one manifest; a stage run again replaces its own entry. It
 * holds no timestamp, so the same run gives a byte-identical manifest. Returns the manifest's path.
 *
 * @throws {UsageError} when `dir` or an input file does not exist.
 */
export async function writeManifest(dir: string, info: ManifestInfo): Promise<string> {
  const inputs = [];
  for (const { path } of info.inputs) {
    const sha256 = await sha256File(path);
    const { size } = await Deno.stat(path);
    inputs.push({ path, sha256, bytes: size });
  }
  const path = join(dir, MANIFEST_NAME);
  let stages: Record<string, unknown> = {};
  try {
    const old = JSON.parse(await Deno.readTextFile(path));
    if (old && old.schema === MANIFEST_SCHEMA && typeof old.stages === "object") stages = old.stages;
  } catch {
    // No manifest yet (or an unreadable one, which is replaced).
  }
  stages[info.stage] = {
    command: info.command,
    versions: info.versions,
    seeds: info.seeds,
    inputs,
    params: info.params,
  };
  await writeFileAtomic(path, stableStringify({ schema: MANIFEST_SCHEMA, stages }, 2) + "\n");
  return path;
}

/**
 * Appends one record (sorted keys, one line) to a metrics JSONL file such as `metrics.jsonl`, creating it if
 * needed. Timings and timestamps belong here, never in result artifacts; a `timestamp` (ISO 8601, UTC) is
 * added unless the record already has one.
 *
 * @throws {UsageError} naming `path` when its folder does not exist.
 */
export async function appendMetrics(path: string, record: Readonly<Record<string, unknown>>): Promise<void> {
  await requireDirectory(dirname(path), path);
  const line = toJsonl([{ timestamp: new Date().toISOString(), ...record }]);
  await Deno.writeTextFile(path, line, { append: true, create: true });
}
