/**
 * Options from environment variables (`KVMCRM_…`) laid over a daemon's config file before validation (decision
 * record 030). The name of each option's variable comes from its path ({@link envNameOf}); the value is parsed by
 * the option's type ({@link ConfigFieldKind}) and then validated by the schema like a value from the file.
 * A `KVMCRM_` variable that is neither an option of this daemon nor one of {@link RESERVED_ENV_NAMES} is refused:
 * a misspelt variable must not be silently ignored.
 */
import type { z } from 'zod';
import { InputError } from './errors.js';
import { ENV_PREFIX, listConfigFields, type ConfigField } from './config-fields.js';

/**
 * `KVMCRM_` variables that are not options and that the daemons leave alone: the config file names, the log level,
 * vtctl's connection variables, and those of the tests, the demo and the benchmarks. An entry ending in `_` is a
 * prefix.
 */
export const RESERVED_ENV_NAMES: readonly string[] = Object.freeze([
  'KVMCRM_MANAGER_CONFIG', 'KVMCRM_AGENT_CONFIG', 'KVMCRM_LOG_LEVEL',
  'KVMCRM_ADMIN_URL', 'KVMCRM_ADMIN_USER', 'KVMCRM_ADMIN_PASSWORD', 'KVMCRM_CA_FILE', 'KVMCRM_AGENT_PASSWORD',
  'KVMCRM_TEST_', 'KVMCRM_DEMO_', 'KVMCRM_BENCH_', 'KVMCRM_CACHE_DIR', 'KVMCRM_PYTHON', 'KVMCRM_PYTHON2',
]);

/** True when `name` is in {@link RESERVED_ENV_NAMES} (exactly, or under a reserved prefix). */
export function isReservedEnvName(name: string): boolean {
  return RESERVED_ENV_NAMES.some((r) => (r.endsWith('_') ? name.startsWith(r) : name === r));
}

const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parses one environment value for `field`. @throws InputError naming the variable and what it must hold.
 */
export function parseEnvValue(field: ConfigField, name: string, text: string): unknown {
  if (field.nullable && text === 'null') return null;
  switch (field.kind) {
    case 'string':
    case 'choice':
      return text;
    case 'number':
      if (!NUMBER.test(text.trim())) throw new InputError(`environment ${name}: "${text}" is not a number (option ${field.key}: ${field.type})`);
      return Number(text.trim());
    case 'boolean':
      if (text !== 'true' && text !== 'false') throw new InputError(`environment ${name}: "${text}" must be true or false (option ${field.key})`);
      return text === 'true';
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new InputError(`environment ${name}: not valid JSON (option ${field.key}: ${field.type}): ${(err as Error).message}`);
      }
    case 'group':
      throw new InputError(`environment ${name}: ${field.key} is a group of options; set its fields (${name}__…)`);
  }
}

/**
 * Returns a copy of `raw` (the parsed config file) with every `KVMCRM_` option variable of `env` set at its path;
 * an environment value wins over the file's. Variables are applied in name order, so the result does not depend on
 * the environment's order.
 * @param source names the daemon in errors (`oxad-agent`).
 * @throws InputError for an unknown `KVMCRM_` variable (listing every one), a value its type cannot parse, or a
 *   path through something in the file that is not an object.
 */
export function applyEnvironment(raw: unknown, schema: z.ZodType, env: NodeJS.ProcessEnv, source: string): unknown {
  const names = Object.keys(env).filter((n) => n.startsWith(ENV_PREFIX) && !isReservedEnvName(n)).sort();
  if (names.length === 0) return raw;
  const fields = new Map(listConfigFields(schema).map((f) => [f.envName, f]));
  const unknown = names.filter((n) => !fields.has(n));
  if (unknown.length) {
    throw new InputError(
      `environment: ${unknown.join(', ')} ${unknown.length === 1 ? 'is not an option' : 'are not options'} of ${source} ` +
        '(option variables are listed in docs/configuration.md; a KVMCRM_ variable must be one of them or a reserved name)',
    );
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`config ${source}: the file must hold a JSON object`);
  const out = structuredClone(raw) as Record<string, unknown>;
  for (const name of names) {
    const field = fields.get(name)!;
    const value = parseEnvValue(field, name, env[name] ?? '');
    let node = out;
    for (const key of field.path.slice(0, -1)) {
      const next = node[key];
      if (next === undefined) node[key] = {};
      else if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        throw new InputError(`environment ${name}: ${field.key} cannot be set because ${key} in the file is not an object`);
      }
      node = node[key] as Record<string, unknown>;
    }
    node[field.path[field.path.length - 1]!] = value;
  }
  return out;
}
