/**
 * Walks a daemon's options schema (zod 4) into a flat list of fields: the dotted path, the environment variable
 * that sets it, its type, default and description (attached with zod's `.describe()`). One walk serves two
 * readers: the environment overlay (config-env.ts, which needs each leaf's type to parse a value) and the generated
 * reference docs/configuration.md (config-reference.ts). Decision record 030 gives the naming rule.
 */
import type { z } from 'zod';

/** Prefix of every environment variable that sets an option. */
export const ENV_PREFIX = 'KVMCRM_';

/**
 * How an environment value becomes an option value:
 * - `group`: an object of options, never set as a whole (set its fields);
 * - `string`, `choice` (enum/literal): the text as it is;
 * - `number`: a decimal number (`12`, `-3`, `2.5`, `1e3`);
 * - `boolean`: `true` or `false`;
 * - `json`: a JSON value (arrays such as `users` or `backupRoots`).
 */
export type ConfigFieldKind = 'group' | 'string' | 'choice' | 'number' | 'boolean' | 'json';

/** One option (or group of options) of a schema. */
export interface ConfigField {
  /** Keys from the root, e.g. `['database', 'password']`. */
  path: readonly string[];
  /** The dotted path, e.g. `database.password`. */
  key: string;
  /** The environment variable that sets it, e.g. `KVMCRM_DATABASE__PASSWORD` (see {@link envNameOf}). */
  envName: string;
  kind: ConfigFieldKind;
  /** The type as a reader sees it, e.g. `integer 0–65535`, `"json" | "pretty"`, `string (URL)`. */
  type: string;
  /** True when the value may be `null` (an environment value `null` then gives null). */
  nullable: boolean;
  /** True when the option must be given (no default, not optional) whenever its group is present. */
  required: boolean;
  /** The default when absent (`hasDefault` says whether there is one). */
  defaultValue?: unknown;
  hasDefault: boolean;
  /** The text attached with `.describe()`, if any. */
  description?: string;
  /** For a field of one variant of a union, e.g. `database.type = "mysql"`. */
  condition?: string;
}

/**
 * The environment variable name of an option path: `KVMCRM_` + each key in upper case with `_` before each of its
 * upper-case letters, keys joined by `__`. `database.password` → `KVMCRM_DATABASE__PASSWORD`,
 * `tls.caFile` → `KVMCRM_TLS__CA_FILE`, `geni.vm.maxMemoryMiB` → `KVMCRM_GENI__VM__MAX_MEMORY_MI_B`.
 * The rule is one-to-one because keys are camelCase (they start lower case and hold no `_`).
 * @throws Error when a key is not camelCase (a schema defect, caught by the unit tests).
 */
export function envNameOf(path: readonly string[]): string {
  return ENV_PREFIX + path.map((k) => {
    if (!/^[a-z][A-Za-z0-9]*$/.test(k)) throw new Error(`option key "${k}" is not camelCase: no environment name can be derived`);
    return k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
  }).join('__');
}

type Schema = z.ZodType;
/** The zod 4 internals we read: `def.type` and the wrappers' fields. Public accessors where zod has them. */
interface Def {
  type: string;
  innerType?: Schema;
  defaultValue?: unknown;
  shape?: Record<string, Schema>;
  options?: Schema[];
  discriminator?: string;
  entries?: Record<string, string | number>;
  values?: unknown[];
  element?: Schema;
  in?: Schema;
  checks?: { _zod: { def: { check: string; format?: string; pattern?: RegExp; minimum?: number; maximum?: number } } }[];
  format?: string;
}
const defOf = (s: Schema): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

interface Layers {
  base: Schema;
  optional: boolean;
  nullable: boolean;
  hasDefault: boolean;
  defaultValue?: unknown;
  description?: string;
}

/** Peels optional/nullable/default/prefault/pipe wrappers, keeping the outermost description and default. */
function unwrap(schema: Schema): Layers {
  const l: Layers = { base: schema, optional: false, nullable: false, hasDefault: false };
  for (;;) {
    const s = l.base;
    if (l.description === undefined && s.description) l.description = s.description;
    const d = defOf(s);
    if (d.type === 'optional') l.optional = true;
    else if (d.type === 'nullable') l.nullable = true;
    else if (d.type === 'default' || d.type === 'prefault') {
      if (!l.hasDefault) {
        l.hasDefault = true;
        // a prefault is an input: its output is what parsing it gives
        l.defaultValue = d.type === 'prefault' ? s.parse(undefined) : d.defaultValue;
      }
    } else if (d.type === 'pipe' && d.in) {
      l.base = d.in;
      continue;
    } else break;
    l.base = d.innerType!;
  }
  return l;
}

/** Text for a number schema's bounds, e.g. `integer 0–65535`, `number > 0, ≤ 3600`. */
function numberType(s: Schema): string {
  const n = s as unknown as { minValue: number | null; maxValue: number | null; isInt: boolean };
  const checks = defOf(s).checks ?? [];
  const exclusiveMin = checks.some((c) => c._zod.def.check === 'greater_than' && (c._zod.def as { inclusive?: boolean }).inclusive === false);
  const base = n.isInt ? 'integer' : 'number';
  const lo = n.minValue !== null && Number.isFinite(n.minValue) && Math.abs(n.minValue) < Number.MAX_SAFE_INTEGER ? n.minValue : null;
  const hi = n.maxValue !== null && Number.isFinite(n.maxValue) && Math.abs(n.maxValue) < Number.MAX_SAFE_INTEGER ? n.maxValue : null;
  if (lo !== null && hi !== null && !exclusiveMin) return `${base} ${lo}–${hi}`;
  const parts = [lo !== null ? `${exclusiveMin ? '>' : '≥'} ${lo}` : '', hi !== null ? `≤ ${hi}` : ''].filter(Boolean);
  return parts.length ? `${base} ${parts.join(', ')}` : base;
}

/** Text for a string schema: `string`, `string (URL)`, `string matching ^…$`. */
function stringType(s: Schema): string {
  const d = defOf(s);
  if (d.format === 'url') return 'string (URL)';
  const pattern = (d.checks ?? []).map((c) => c._zod.def).find((c) => c.format === 'regex' && c.pattern)?.pattern;
  return pattern ? `string matching \`${pattern.source}\`` : 'string';
}

/** Kind and type text of a leaf schema. */
function leafType(s: Schema): { kind: ConfigFieldKind; type: string } {
  const d = defOf(s);
  switch (d.type) {
    case 'string': return { kind: 'string', type: stringType(s) };
    case 'number': return { kind: 'number', type: numberType(s) };
    case 'boolean': return { kind: 'boolean', type: 'boolean' };
    case 'enum': return { kind: 'choice', type: Object.values(d.entries ?? {}).map((v) => JSON.stringify(v)).join(' | ') };
    case 'literal': return { kind: 'choice', type: (d.values ?? []).map((v) => JSON.stringify(v)).join(' | ') };
    case 'array': {
      const e = unwrap(d.element!).base;
      const inner = defOf(e).type === 'object' ? 'objects' : leafType(e).type;
      return { kind: 'json', type: `JSON array of ${inner}` };
    }
    default: return { kind: 'json', type: `JSON ${d.type}` };
  }
}

/**
 * Every field of `schema` (an object schema), groups before their fields, in declaration order. Fields that occur
 * in several variants of a discriminated union are listed once (the discriminator's values joined).
 * @throws Error when a key is not camelCase (see {@link envNameOf}).
 */
export function listConfigFields(schema: Schema): ConfigField[] {
  const out = new Map<string, ConfigField>();
  const visit = (s: Schema, path: string[], parentOptional: boolean, condition: string | undefined) => {
    const l = unwrap(s);
    const d = defOf(l.base);
    const common = {
      path, key: path.join('.'), envName: path.length ? envNameOf(path) : '', nullable: l.nullable,
      required: !l.optional && !l.hasDefault && !parentOptional, hasDefault: l.hasDefault,
      ...(l.hasDefault ? { defaultValue: l.defaultValue } : {}),
      ...(l.description ? { description: l.description } : {}), ...(condition ? { condition } : {}),
    };
    const add = (f: ConfigField) => {
      const seen = out.get(f.key);
      if (!seen) return void out.set(f.key, f);
      // the same key in another union variant: one row, the choice types joined, no variant condition
      const merged: ConfigField = { ...seen };
      delete merged.condition;
      if (seen.kind === 'choice' && f.kind === 'choice') merged.type = [...new Set([...seen.type.split(' | '), ...f.type.split(' | ')])].join(' | ');
      out.set(f.key, merged);
    };
    const childOptional = l.optional || parentOptional;
    if (d.type === 'object') {
      if (path.length) add({ ...common, kind: 'group', type: 'object' });
      for (const [k, v] of Object.entries(d.shape ?? {})) visit(v, [...path, k], childOptional, condition);
    } else if (d.type === 'union' && (d.options ?? []).every((o) => defOf(unwrap(o).base).type === 'object')) {
      add({ ...common, kind: 'group', type: 'object (one of several shapes)' });
      for (const o of d.options ?? []) {
        const shape = defOf(unwrap(o).base).shape ?? {};
        const disc = d.discriminator ? shape[d.discriminator] : undefined;
        const value = disc ? (defOf(unwrap(disc).base).values ?? [])[0] : undefined;
        const cond = d.discriminator && value !== undefined ? `${[...path, d.discriminator].join('.')} = ${JSON.stringify(value)}` : condition;
        for (const [k, v] of Object.entries(shape)) visit(v, [...path, k], childOptional, k === d.discriminator ? condition : cond);
      }
    } else {
      add({ ...common, ...leafType(l.base) });
    }
  };
  visit(schema, [], false, undefined);
  return [...out.values()].filter((f) => f.path.length > 0);
}
