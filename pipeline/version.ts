/** The version of untrained written into manifests (keep equal to deno.json's "version"). */
export const VERSION = "0.1.0";
