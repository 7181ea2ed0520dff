/**
 * Configuration loading: a JSON file, validated with a zod schema, with clear errors.
 *
 * Each daemon declares its options schema (with defaults documented where they are declared) and calls
 * {@link loadConfigFile}. Paths inside the file are resolved relative to the file's folder.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { InputError } from './errors.js';

/**
 * Reads `file` (JSON), validates it with `schema` and returns the parsed options.
 * @throws InputError when the file is missing or unreadable, not valid JSON, or fails validation; the message
 *   names the file and each offending key (`config /etc/x.json: tls.certFile: Required`).
 */
export function loadConfigFile<S extends z.ZodType>(file: string, schema: S): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`config ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new InputError(`config ${file}: not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(raw, schema, file);
}

/** Validates an already-parsed object; `source` names it in errors. @throws InputError listing every problem. */
export function parseConfig<S extends z.ZodType>(raw: unknown, schema: S, source: string): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new InputError(`config ${source}: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Resolves `p` against the folder of the config file `configFile` (absolute paths are kept). */
export function resolveFromConfig(configFile: string, p: string): string {
  return path.resolve(path.dirname(path.resolve(configFile)), p);
}

/** zod schema for the TLS files every daemon serves with (PEM paths). */
export const tlsFilesSchema = z.object({
  /** CA certificate (PEM) that peers' certificates must chain to. */
  caFile: z.string().min(1),
  /** This component's certificate (PEM). */
  certFile: z.string().min(1),
  /** This component's private key (PEM, mode 0600). */
  keyFile: z.string().min(1),
});
export type TlsFiles = z.infer<typeof tlsFilesSchema>;

export { z };
