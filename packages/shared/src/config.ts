/**
 * Configuration loading: a JSON file, with `KVMCRM_…` environment variables laid over it (config-env.ts, decision
 * record 030), validated with a zod schema, with clear errors.
 *
 * Each daemon declares its options schema (defaults and `.describe()` texts where each option is declared; the
 * reference docs/configuration.md is generated from them) and calls {@link loadConfigFile}. Paths inside the file
 * are resolved relative to the file's folder.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { InputError } from './errors.js';
import { applyEnvironment } from './config-env.js';

/** Options of {@link loadConfigFile}. */
export interface LoadConfigOptions {
  /**
   * Environment whose `KVMCRM_…` option variables override the file's values (see `applyEnvironment`). Default:
   * none (the daemons pass `process.env`).
   */
  env?: NodeJS.ProcessEnv;
  /** Names the program in environment errors. Default `this daemon`. */
  program?: string;
}

/**
 * Reads `file` (JSON), lays the `KVMCRM_…` variables of `options.env` over it, validates the result with `schema`
 * and returns the parsed options.
 * @throws InputError when the file is missing or unreadable, not valid JSON, an environment variable is unknown or
 *   unparseable, or the result fails validation; the message names the file and each offending key
 *   (`config /etc/x.json: tls.certFile: Required`).
 */
export function loadConfigFile<S extends z.ZodType>(file: string, schema: S, options: LoadConfigOptions = {}): z.infer<S> {
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
  if (options.env) raw = applyEnvironment(raw, schema, options.env, options.program ?? 'this daemon');
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
