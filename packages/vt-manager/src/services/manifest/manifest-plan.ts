/**
 * What a manifest verb would do (issue 12 "Manifests", decision 024): the manifest's VMs compared with the VMs the
 * manager has, as a list of steps per host. Pure: `plan` and `--dry-run` print these steps and stop; the verbs run
 * the steps whose `kind` changes something, and only those.
 *
 * A stored VM matches its manifest VM when its host (if the manifest names one), vCPUs, memory, memory ceiling,
 * system disk, data disks, template and management address (if the manifest gives one) agree. Anything else is
 * reported as `rebuild-needed` with the differences, and never touched. The guest host name is not part of the
 * match: `sethostnames` deals with it.
 */
import type { ManifestVm } from './manifest-file.js';

/** The manifest verbs. */
export const MANIFEST_VERBS = ['build', 'start', 'stop', 'delete', 'dumpxml', 'sethostnames'] as const;
export type ManifestVerb = (typeof MANIFEST_VERBS)[number];

/** A VM as the manager has it, for the comparison. Sizes in MiB; null: not set. */
export interface StoredVm {
  uuid: string;
  name: string;
  host: string;
  state: string;
  vcpus: number;
  memoryMiB: number;
  maxMemoryMiB: number | null;
  diskMiB: number | null;
  dataDisksMiB: number[];
  ip: string | null;
  hostname: string | null;
  template: string;
}

/**
 * What a step does: `create`, `start`, `stop`, `delete`, `dumpxml`, `set-hostname` change or read something;
 * `unchanged` (already as asked), `rebuild-needed` (differs; never touched), `missing` (not built yet) and `busy`
 * (in a transition) do nothing; `refused` is a create the manager would refuse (the reason is the detail).
 */
export type StepKind = 'create' | 'start' | 'stop' | 'delete' | 'dumpxml' | 'set-hostname' | 'unchanged' | 'rebuild-needed' | 'missing' | 'busy' | 'refused';

/** One step of a plan. */
export interface PlanStep {
  kind: StepKind;
  vm: string;
  /** The host it runs on: the VM's, the manifest's, or `(placed)` when the manager will choose at build. */
  host: string;
  /** The stored VM's uuid; `""` before it exists. */
  uuid: string;
  /** What exactly: the create's sizes, the differences of a rebuild-needed, the state of an unchanged. */
  detail: string;
}

/** The step kinds that act (a verb runs only these). */
export const ACTING_KINDS: readonly StepKind[] = ['create', 'start', 'stop', 'delete', 'dumpxml', 'set-hostname'];

/** Host shown for a VM the manager will place. */
export const PLACED = '(placed)';

const RUNNING_STATES = new Set(['running']);
const STOPPED_STATES = new Set(['created (stopped)', 'stopped']);

const size = (mib: number) => (mib % 1024 === 0 ? `${mib / 1024}G` : `${mib}M`);

/** The create's sizes as one line, e.g. `2 vCPU, 4G (max 8G), disk 60G + 1×60G, ip 173.30.5.11, template t`. */
export function describeCreate(vm: ManifestVm & { template: string }): string {
  const parts = [`${vm.vcpus} vCPU`, `${size(vm.memoryMiB)}${vm.maxMemoryMiB !== undefined ? ` (max ${size(vm.maxMemoryMiB)})` : ''}`];
  parts.push(`disk ${size(vm.diskMiB)}${vm.dataDisksMiB.length ? ` + ${vm.dataDisksMiB.map(size).join(' + ')}` : ''}`);
  if (vm.ip) parts.push(`ip ${vm.ip}`);
  if (vm.hostname) parts.push(`hostname ${vm.hostname}`);
  parts.push(`template ${vm.template}`);
  return parts.join(', ');
}

/** The differences between a manifest VM and its stored VM that would need a rebuild, as `field: stored → wanted`. */
export function differences(want: ManifestVm & { template: string }, has: StoredVm): string[] {
  const d: string[] = [];
  const cmp = (field: string, stored: unknown, wanted: unknown, show: (v: never) => string = String) => {
    if (JSON.stringify(stored) !== JSON.stringify(wanted)) d.push(`${field}: ${show(stored as never)} → ${show(wanted as never)}`);
  };
  const mib = (v: number | null) => (v === null ? '-' : size(v));
  if (want.host !== undefined) cmp('host', has.host, want.host);
  cmp('vcpus', has.vcpus, want.vcpus);
  cmp('memory', has.memoryMiB, want.memoryMiB, mib);
  cmp('maxMemory', has.maxMemoryMiB ?? has.memoryMiB, want.maxMemoryMiB ?? want.memoryMiB, mib);
  cmp('disk', has.diskMiB, want.diskMiB, mib);
  cmp('dataDisks', has.dataDisksMiB, want.dataDisksMiB, (v: number[]) => `[${v.map(size).join(',')}]`);
  cmp('template', has.template, want.template);
  if (want.ip !== undefined) cmp('ip', has.ip ?? '-', want.ip);
  return d;
}

/**
 * The steps of `verb` for the manifest VMs `want` given the stored VMs `has` (those of the admin's project, by
 * name), in manifest order.
 */
export function planManifest(verb: ManifestVerb, want: ReadonlyArray<ManifestVm & { template: string }>, has: ReadonlyArray<StoredVm>, options: { reboot?: boolean } = {}): PlanStep[] {
  const stored = new Map(has.map((v) => [v.name, v]));
  return want.map((vm): PlanStep => {
    const s = stored.get(vm.name);
    const host = s?.host ?? vm.host ?? PLACED;
    const step = (kind: StepKind, detail: string): PlanStep => ({ kind, vm: vm.name, host, uuid: s?.uuid ?? '', detail });
    if (verb === 'build') {
      if (!s) return step('create', describeCreate(vm));
      const diff = differences(vm, s);
      return diff.length ? step('rebuild-needed', diff.join('; ')) : step('unchanged', `matches (${s.state})`);
    }
    if (!s) return step(verb === 'delete' ? 'unchanged' : 'missing', verb === 'delete' ? 'not there' : 'not built');
    switch (verb) {
      case 'start':
        return RUNNING_STATES.has(s.state) ? step('unchanged', s.state) : STOPPED_STATES.has(s.state) ? step('start', `from ${s.state}`) : step('busy', s.state);
      case 'stop':
        return RUNNING_STATES.has(s.state) ? step('stop', 'running') : STOPPED_STATES.has(s.state) ? step('unchanged', s.state) : step('busy', s.state);
      case 'delete':
        return step('delete', s.state);
      case 'dumpxml':
        return step('dumpxml', `${vm.name}.xml`);
      case 'sethostnames':
        if (!vm.hostname) return step('unchanged', 'no hostname in the manifest');
        return (s.hostname ?? s.name) === vm.hostname
          ? step('unchanged', vm.hostname)
          : step('set-hostname', `${s.hostname ?? s.name} → ${vm.hostname}: ${hostnameOutcome(RUNNING_STATES.has(s.state), options.reboot === true)}`);
    }
  });
}

/**
 * What a set-hostname step promises (decision 024 §8): the agent rewrites the seed, the guest reads it at its next
 * boot. `running` and `--reboot`: the VM is rebooted (a durable reboot action), after which the name is applied.
 */
export function hostnameOutcome(running: boolean, reboot: boolean): string {
  if (!running) return 'seed rewritten, applied at next boot';
  return reboot ? 'seed rewritten, running: reboot to apply' : 'seed rewritten, applied at next boot; running: needs a reboot';
}

/** The steps by host, hosts by name (`(placed)` last), steps in manifest order. */
export function stepsByHost<T extends PlanStep>(steps: readonly T[]): Array<{ host: string; steps: T[] }> {
  const hosts = [...new Set(steps.map((s) => s.host))].sort((a, b) => (a === PLACED ? 1 : b === PLACED ? -1 : a < b ? -1 : a > b ? 1 : 0));
  return hosts.map((host) => ({ host, steps: steps.filter((s) => s.host === host) }));
}
