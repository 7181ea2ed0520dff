/**
 * `vtctl manifest plan|build|start|stop|delete|dumpxml|sethostnames FILE...` and `vtctl capacity [--manifest FILE...]`
 * (issue 12 "Manifests", decision 024): the seed-004 manifest format, several files merged like
 * `mergeAllManifests.sh`. vtctl reads and checks the files (errors name the file and the key), the manager plans
 * against what it has (`manifest.plan`) and runs the acting steps as durable actions (`manifest.run`); vtctl waits for
 * them, a line per finished action (with an updating count on a terminal). `plan` and `--dry-run` print the steps per
 * host and change nothing. `--json` prints what the manager answered, with each action's outcome.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { writeFileAtomic, type XmlRpcClient } from '@kvm-crm/shared';
import { mergeManifests, parseManifestFile, withTemplate } from '../services/manifest/manifest-file.js';
import { ACTING_KINDS, MANIFEST_VERBS, stepsByHost, type ManifestVerb, type PlanStep } from '../services/manifest/manifest-plan.js';
import { formatTable, type Cell } from './table.js';
import { capacityTable } from './host-commands.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the manifest commands need from vtctl. */
export interface ManifestCommandDeps {
  adminClient: (cmd: Command) => XmlRpcClient;
  /** Whether `--json` was given. */
  json: () => boolean;
}

/** A step after `manifest.run`, with the outcome of its action once vtctl waited for it. */
interface RunStep extends PlanStep {
  actionId: string;
  error: string;
  status?: string;
  seconds?: number;
}

/**
 * Reads, parses and merges manifest files and resolves each VM's template (`fallback`: `--template`).
 * @throws Error naming the file for an unreadable file; InputError from the parser (file, key, path).
 */
export function loadManifest(files: string[], fallback: string | undefined) {
  const parsed = files.map((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (err) {
      throw new Error(`${f}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    return parseManifestFile(text, f);
  });
  return withTemplate(mergeManifests(parsed), fallback);
}

/** The steps per host as text: a `host NAME` line, then one line per step (kind, VM, detail), then a summary. */
export function planText(steps: ReadonlyArray<PlanStep & { error?: string; status?: string; seconds?: number }>, dryRun: boolean): string {
  const lines: string[] = [];
  for (const { host, steps: list } of stepsByHost(steps)) {
    lines.push(`host ${host}`);
    const kw = Math.max(...list.map((s) => s.kind.length));
    const nw = Math.max(...list.map((s) => s.vm.length));
    for (const s of list) {
      const outcome = s.error ? ` -> FAILED: ${s.error}` : s.status ? ` -> ${s.status}${s.seconds !== undefined ? ` after ${s.seconds}s` : ''}` : '';
      lines.push(`  ${s.kind.padEnd(kw)}  ${s.vm.padEnd(nw)}  ${s.detail}${outcome}`.trimEnd());
    }
  }
  const count = (k: string) => steps.filter((s) => s.kind === k).length;
  const acting = steps.filter((s) => ACTING_KINDS.includes(s.kind)).length;
  const parts = [...new Set(steps.map((s) => s.kind))].map((k) => `${count(k)} ${k}`);
  if (acting === 0) lines.push(`nothing to do: ${parts.join(', ')}`);
  else lines.push(`${dryRun ? 'would run' : 'ran'} ${acting} step(s): ${parts.join(', ')}${dryRun ? ' (dry run: nothing changed)' : ''}`);
  if (count('rebuild-needed')) lines.push(`${count('rebuild-needed')} VM(s) differ from the manifest and need a rebuild: left alone`);
  return lines.join('\n') + '\n';
}

/**
 * Waits for every step's action to end, writing a line per finished action to stderr (and an updating count on a
 * terminal). Fills in `status` and `seconds`.
 */
async function waitForSteps(c: XmlRpcClient, steps: RunStep[]): Promise<void> {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  const pending = steps.filter((s) => s.actionId);
  const total = pending.length;
  while (pending.length) {
    for (const s of [...pending]) {
      const a = await c.call<{ status: string; description: string }>('action.show', [{ id: s.actionId }]);
      if (a.status !== 'SUCCESS' && a.status !== 'FAILED') continue;
      s.status = a.status;
      s.seconds = Math.round((Date.now() - started) / 100) / 10;
      if (a.status === 'FAILED') s.error = a.description;
      pending.splice(pending.indexOf(s), 1);
      process.stderr.write(`${tty ? '\r\x1b[K' : ''}${s.kind} ${s.vm} on ${s.host}: ${a.status} after ${s.seconds}s${a.status === 'FAILED' ? `: ${a.description}` : ''}\n`);
    }
    if (!pending.length) break;
    if (tty) process.stderr.write(`\r\x1b[K${total - pending.length}/${total} done, ${Math.floor((Date.now() - started) / 1000)}s`);
    await sleep(tty ? 250 : 500);
  }
}

/** Asks "yes" on the terminal. @throws Error without a terminal (then `--yes` is needed). */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) throw new Error(`${question.split('\n')[0]}: no terminal to confirm on; give --yes`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`${question} Type yes to go on: `)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

/** Adds `manifest …` and `capacity` to `program`. */
export function addManifestCommands(program: Command, deps: ManifestCommandDeps): void {
  const out = (value: unknown, text: () => string) => void process.stdout.write(deps.json() ? JSON.stringify(value, null, 2) + '\n' : text());
  const manifest = program.command('manifest').description('declarative VMs from seed-004 manifest files (kvm-mgr.sh): plan, build, start, stop, delete, dumpxml, sethostnames');
  const fileArgs = (cmd: Command) => cmd.option('--template <name>', 'template for vmspecs without "template"');

  fileArgs(manifest.command('plan <verb-or-file> [files...]'))
    .description('print the steps a verb (build, start, stop, delete, dumpxml, sethostnames; default build) would run, per host; changes nothing')
    .action(async function (this: Command, first: string, rest: string[], o: { template?: string }) {
      // `plan FILE…` plans a build; `plan VERB FILE…` that verb (a file named like a verb: give it as ./build).
      const verb = (MANIFEST_VERBS as readonly string[]).includes(first) ? first : 'build';
      const files = verb === first ? rest : [first, ...rest];
      if (!files.length) throw new Error('plan: give the manifest file(s)');
      const vms = loadManifest(files, o.template);
      const steps = await deps.adminClient(this).call<PlanStep[]>('manifest.plan', [{ verb, vms }]);
      out({ verb, dryRun: true, steps }, () => planText(steps, true));
      if (steps.some((s) => s.kind === 'refused')) process.exitCode = 1;
    });

  for (const [verb, help] of [
    ['build', 'create the VMs that are missing (durable create actions); VMs that differ are reported, never touched'],
    ['start', "start the manifest's VMs that are stopped"],
    ['stop', "shut down the manifest's VMs that run"],
    ['delete', "delete the manifest's VMs (asks on a terminal; --yes to skip), disks too unless --keep-disks"],
    ['sethostnames', "rewrite each VM's cloud-init seed with its manifest hostname (applied at the guest's next boot; --reboot reboots running VMs) and store it"],
  ] as const) {
    const cmd = fileArgs(manifest.command(`${verb} <files...>`))
      .description(help)
      .option('--dry-run', 'print the steps per host and change nothing (as plan)')
      .option('--no-wait', 'queue the actions and return (default: wait and show each outcome)');
    if (verb === 'delete') cmd.option('--keep-disks', "keep the disk images on the hosts (the storage root's kept-disks/)").option('--yes', 'do not ask');
    if (verb === 'sethostnames') cmd.option('--reboot', 'reboot the running VMs whose name changes (durable reboot actions), so the name applies now');
    cmd.action(async function (this: Command, files: string[], o: { template?: string; dryRun?: boolean; wait: boolean; keepDisks?: boolean; yes?: boolean; reboot?: boolean }) {
      const vms = loadManifest(files, o.template);
      const c = deps.adminClient(this);
      const planned = await c.call<PlanStep[]>('manifest.plan', [{ verb, vms, ...(o.reboot ? { reboot: true } : {}) }]);
      if (o.dryRun) {
        out({ verb, dryRun: true, steps: planned }, () => planText(planned, true));
        if (planned.some((s) => s.kind === 'refused')) process.exitCode = 1;
        return;
      }
      if (verb === 'delete' && !o.yes) {
        const doomed = planned.filter((s) => s.kind === 'delete');
        if (doomed.length && !(await confirm(`Delete ${doomed.length} VM(s) (${doomed.map((s) => `${s.vm} on ${s.host}`).join(', ')}), ${o.keepDisks ? 'keeping' : 'removing'} their disks?\n`))) {
          throw new Error('not confirmed: nothing deleted');
        }
      }
      const started = Date.now();
      const steps = await c.call<RunStep[]>('manifest.run', [{ verb, vms, ...(o.keepDisks ? { keepDisks: true } : {}), ...(o.reboot ? { reboot: true } : {}) }]);
      if (o.wait) await waitForSteps(c, steps);
      // sethostnames --reboot: a reboot that succeeded applied the name (decision 024 §8).
      for (const s of steps) if (s.kind === 'set-hostname' && s.actionId && s.status === 'SUCCESS') s.detail = s.detail.replace(/: seed rewritten, running: reboot to apply$/, ': applied (rebooted)');
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      out({ verb, dryRun: false, seconds, steps }, () => planText(steps, false) + `${seconds}s\n`);
      if (steps.some((s) => s.error || s.kind === 'refused')) process.exitCode = 1;
    });
  }

  fileArgs(manifest.command('dumpxml <files...>'))
    .description("write each manifest VM's libvirt domain XML to <dir>/<vm>.xml (read by its host's agent)")
    .requiredOption('--dir <folder>', 'folder to write to (created when missing)')
    .option('--dry-run', 'print the steps per host and write nothing')
    .action(async function (this: Command, files: string[], o: { template?: string; dir: string; dryRun?: boolean }) {
      const vms = loadManifest(files, o.template);
      const c = deps.adminClient(this);
      if (o.dryRun) {
        const steps = await c.call<PlanStep[]>('manifest.plan', [{ verb: 'dumpxml', vms }]);
        return out({ verb: 'dumpxml', dryRun: true, steps }, () => planText(steps, true));
      }
      const docs = await c.call<Array<{ vm: string; uuid: string; host: string; xml: string; error: string }>>('manifest.domainXml', [{ vms }]);
      mkdirSync(o.dir, { recursive: true });
      const written = docs.map((d) => {
        if (d.error) return { vm: d.vm, host: d.host, file: '', error: d.error };
        const file = join(o.dir, `${d.vm}.xml`); // d.vm matched the VM name pattern: no path separator
        writeFileAtomic(file, d.xml, 0o644);
        return { vm: d.vm, host: d.host, file, error: '' };
      });
      out(written, () => formatTable(['VM', 'HOST', 'FILE', 'ERROR'], written.map((w): Cell[] => [w.vm, w.host, w.file, w.error])));
      if (written.some((w) => w.error)) process.exitCode = 1;
    });

  program
    .command('capacity')
    .description('per host: capacity for VMs; with --manifest, what a build of the manifest would add against what is free (vm-consumptions.sh, in advance)')
    .option('--manifest <file>', 'manifest file (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--template <name>', 'template for vmspecs without "template"')
    .action(async function (this: Command, o: { manifest: string[]; template?: string }) {
      const c = deps.adminClient(this);
      if (!o.manifest.length) {
        const rows = await c.call<Parameters<typeof capacityTable>[0]>('host.capacity', []);
        return out(rows, () => capacityTable(rows));
      }
      const rows = await c.call<Array<{ host: string; newVms: number; vcpus: Pair; memoryMiB: Pair; diskMiB: Pair; fits: string; why: string }>>('manifest.capacity', [{ vms: loadManifest(o.manifest, o.template) }]);
      const gib = (m: number | null) => (m === null ? null : Math.round((m / 1024) * 10) / 10);
      const n = (header: string) => ({ header, right: true });
      out(rows, () => formatTable(
        ['HOST', n('NEW VMS'), n('VCPUS'), n('AVAIL'), n('MEM MiB'), n('AVAIL'), n('DISK GiB'), n('AVAIL'), 'FITS', 'WHY'],
        rows.map((r): Cell[] => [r.host, r.newVms, r.vcpus.asked, r.vcpus.available, r.memoryMiB.asked, r.memoryMiB.available, gib(r.diskMiB.asked), gib(r.diskMiB.available), r.fits, r.why]),
      ));
      if (rows.some((r) => r.fits === 'no')) process.exitCode = 1;
    });
}

interface Pair {
  asked: number;
  available: number | null;
}

/** The verbs `manifest.run` accepts (for tests). */
export const RUN_VERBS: readonly ManifestVerb[] = ['build', 'start', 'stop', 'delete', 'sethostnames'];
