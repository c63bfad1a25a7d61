/**
 * Error types the CLI reports without a stack trace.
 *
 * The CLI catches {@linkcode UsageError} (and its subclass {@linkcode DataError}), prints
 * `error: <message>` to stderr and exits with status 2. Any other error is a bug and keeps its stack.
 *
 * @module
 */

/**
 * A mistake in how the pipeline was invoked: a bad flag value, a missing input file, an output folder that
 * does not exist, an unknown metric. The message names the offending flag or file.
 */
export class UsageError extends Error {
  /** Creates a usage error; `message` must name the flag or file at fault. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/**
 * A user-supplied file whose content is malformed (bad JSON line, missing CSV column, non-numeric field,
 * an `arch_str` that disagrees with the benchmark table). The message starts with `<file>:<line>:` where a
 * line is known. It is a {@linkcode UsageError} so the CLI reports it the same way (exit status 2).
 */
export class DataError extends UsageError {
  /** Creates a data error; `message` must name the file (and line where known). */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DataError";
  }
}
