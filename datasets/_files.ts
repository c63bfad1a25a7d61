/**
 * Private file-system helpers of the readers: path display, stat without throwing on a missing path, and file
 * reads whose errors name the file.
 * @module
 */

import { fileURLToPath } from "node:url";
import { DatasetError } from "./types.ts";

/** The path as a plain string (a `file:` URL is converted to a path). */
export function displayPath(path: string | URL): string {
  return typeof path === "string" ? path : fileURLToPath(path);
}

/** `Deno.stat`, or null when nothing exists at the path; other failures become a {@link DatasetError}. */
export async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new DatasetError(`${path}: cannot stat (${(e as Error).message})`, path);
  }
}

/** Reads a whole file; failures become a {@link DatasetError} naming the file. */
export async function readFileOrThrow(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new DatasetError(`${path}: cannot read (${(e as Error).message})`, path);
  }
}
