/**
 * The top entries of a V8 CPU profile (`node --cpu-prof`, a `.cpuprofile` JSON file): self time per function
 * (name, file and line), as the "Bottom-Up" view of Chrome's DevTools shows it, for the benchmark write-ups.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** One function's share of the sampled time. */
export interface ProfileEntry {
  /** `name (file:line)`, the file relative to the repository or to `node_modules/`. */
  where: string;
  /** Self time in milliseconds. */
  selfMs: number;
  /** Self time as a share of all sampled time, 0–100. */
  percent: number;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A short location: the part after `node_modules/` or after `packages/`, else the base name. */
function shortUrl(url: string): string {
  if (url === '') return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  const pk = u.indexOf('packages/');
  if (pk >= 0) return u.slice(pk);
  return path.basename(u);
}

/**
 * The `top` functions by self time of the profile in `file`, idle time (`(idle)`) excluded from the shares so they
 * describe the busy time; also returns the busy milliseconds.
 * @throws when the file cannot be read or is not a CPU profile.
 */
export async function profileTop(file: string, top = 15): Promise<{ busyMs: number; entries: ProfileEntry[] }> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples)) throw new Error(`${file} is not a CPU profile`);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let busyUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!node) continue;
    const f = node.callFrame;
    if (f.functionName === '(idle)' || f.functionName === '(program)') continue;
    const where = `${f.functionName || '(anonymous)'}${f.url ? ` (${shortUrl(f.url)}:${f.lineNumber + 1})` : ''}`;
    selfUs.set(where, (selfUs.get(where) ?? 0) + dt);
    busyUs += dt;
  }
  const entries = [...selfUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, us]) => ({ where, selfMs: Math.round(us / 100) / 10, percent: busyUs ? Math.round((us / busyUs) * 1000) / 10 : 0 }));
  return { busyMs: Math.round(busyUs / 1000), entries };
}

/** The entries as a Markdown table. */
export function profileTable(entries: ProfileEntry[]): string {
  return ['| self ms | % of busy | function |', '|---:|---:|---|', ...entries.map((e) => `| ${e.selfMs} | ${e.percent} | \`${e.where.replace(/\|/g, '\\|')}\` |`)].join('\n');
}
