/**
 * Private helpers to read the official `.tar.gz` archives without unpacking them: gunzip with `node:zlib`, then
 * walk the tar headers (POSIX ustar, GNU long names, pax `path` records; 512-byte blocks, octal or base-256
 * sizes, header checksums verified). Members are returned as views into the uncompressed bytes (no copy).
 * @module
 */

import { gunzipSync } from "node:zlib";
import { DatasetError } from "./types.ts";

const BLOCK = 512;

/** One regular file of a tar archive. */
export interface TarMember {
  /** Member path as stored, without a leading `./`. */
  name: string;
  /** Byte offset of the member's data in the uncompressed tar stream. */
  offset: number;
  /** The member's bytes (a view into the uncompressed archive). */
  data: Uint8Array;
}

/** True when `bytes` starts with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** True when `bytes` looks like a tar archive (ustar magic at offset 257 of the first header). */
export function isTar(bytes: Uint8Array): boolean {
  return bytes.length >= BLOCK && text(bytes, 257, 5) === "ustar";
}

/** Decompresses a gzip file; a corrupt stream becomes a {@link DatasetError} naming the archive. */
export function gunzip(bytes: Uint8Array, archive: string): Uint8Array {
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new DatasetError(`${archive}: cannot gunzip (${(e as Error).message})`, archive);
  }
}

/** Lists the regular files of an uncompressed tar archive, in archive order. */
export function parseTar(tar: Uint8Array, archive: string): TarMember[] {
  const members: TarMember[] = [];
  let at = 0;
  let longName: string | null = null;
  while (at + BLOCK <= tar.length) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break; // end-of-archive marker
    checkChecksum(h, archive, at);
    const size = parseSize(h, archive, at);
    const type = String.fromCharCode(h[156]!);
    const dataAt = at + BLOCK;
    if (dataAt + size > tar.length) {
      throw new DatasetError(
        `${archive}: truncated tar member at byte offset ${at} of the uncompressed tar: ${size} bytes declared, ` +
          `${tar.length - dataAt} present`,
        archive,
        at,
      );
    }
    const data = tar.subarray(dataAt, dataAt + size);
    let name = text(h, 0, 100);
    if (text(h, 257, 5) === "ustar" && h[262] === 0) { // POSIX "ustar\0"; GNU "ustar " has no prefix
      const prefix = text(h, 345, 155);
      if (prefix !== "") name = `${prefix}/${name}`;
    }
    if (type === "L") {
      longName = text(data, 0, data.length);
    } else if (type === "x") {
      const path = paxPath(data);
      if (path !== null) longName = path;
    } else {
      if (type === "0" || type === "\0" || type === "7") {
        members.push({ name: (longName ?? name).replace(/^(\.\/)+/, ""), offset: dataAt, data });
      }
      longName = null;
    }
    at = dataAt + Math.ceil(size / BLOCK) * BLOCK;
  }
  return members;
}

/** Reads a `.tar.gz` (or plain `.tar`) archive held in memory and lists its regular files. */
export function readArchive(bytes: Uint8Array, archive: string): TarMember[] {
  const gz = isGzip(bytes);
  const tar = gz ? gunzip(bytes, archive) : bytes;
  // A gunzipped stream is walked even without the ustar magic (old V7 headers); the checksums still guard it.
  if (!gz && !isTar(tar)) {
    throw new DatasetError(`${archive}: not a tar archive (no ustar header at byte offset 0)`, archive, 0);
  }
  return parseTar(tar, archive);
}

/** NUL-terminated ASCII text of a header field. */
function text(b: Uint8Array, start: number, len: number): string {
  let s = "";
  for (let i = start; i < start + len && i < b.length; i++) {
    const c = b[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** Parses an octal numeric field (spaces and NULs around it ignored). */
function octal(b: Uint8Array, start: number, len: number): number {
  const s = text(b, start, len).trim();
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : NaN;
}

/** Member size: octal, or GNU base-256 when the first byte has its high bit set. */
function parseSize(h: Uint8Array, archive: string, at: number): number {
  let size: number;
  if ((h[124]! & 0x80) !== 0) {
    size = h[124]! & 0x7f;
    for (let i = 125; i < 136; i++) size = size * 256 + h[i]!;
  } else {
    size = octal(h, 124, 12);
  }
  if (!Number.isSafeInteger(size)) {
    throw new DatasetError(`${archive}: bad size field in the tar header at byte offset ${at}`, archive, at);
  }
  return size;
}

/** Verifies the header checksum (sum of the header bytes, checksum field counted as spaces). */
function checkChecksum(h: Uint8Array, archive: string, at: number): void {
  const stored = octal(h, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new DatasetError(
      `${archive}: tar header checksum mismatch at byte offset ${at} of the uncompressed tar ` +
        `(stored ${
          Number.isNaN(stored) ? "unreadable" : stored
        }, computed ${unsigned}); corrupt or not a tar archive`,
      archive,
      at,
    );
  }
}

/** The `path` record of a pax extended header (records `LEN key=value\n`, LEN in bytes), if any. */
function paxPath(data: Uint8Array): string | null {
  const dec = new TextDecoder();
  let path: string | null = null;
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const len = parseInt(dec.decode(data.subarray(i, space)), 10);
    if (!Number.isFinite(len) || len <= 0 || i + len > data.length) break;
    const record = dec.decode(data.subarray(space + 1, i + len - 1)); // without the trailing newline
    const eq = record.indexOf("=");
    if (eq > 0 && record.slice(0, eq) === "path") path = record.slice(eq + 1);
    i += len;
  }
  return path;
}
