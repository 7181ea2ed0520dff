/**
 * The manifest verbs on the manager (`vtctl manifest plan|build|start|stop|delete|dumpxml|sethostnames`,
 * `vtctl capacity --manifest`; issue 12 "Manifests", decision 024). A front door onto the same services and durable
 * actions as `vtctl vm …` (docs/architecture.md decision 9): creates go through {@link VmLifecycleService.create},
 * verbs through {@link VmLifecycleService.act}. `plan` only reads; a verb runs the acting steps of the same plan.
 *
 * A manifest's VMs live in the calling admin's project ({@link adminProjectId}); VMs are matched by name there.
 */
import { ConflictError, InputError, NotFoundError, describeError } from '@kvm-crm/shared';
import type { TransactionRunner } from '../../db/transaction-runner.js';
import { ipv4ToInt, intToIpv4 } from '../addresses.js';
import { RangeRepository } from '../../repositories/range-repository.js';
import { ServerRepository } from '../../repositories/server-repository.js';
import { SlotRepository } from '../../repositories/slot-repository.js';
import { VmRepository } from '../../repositories/vm-repository.js';
import type { CapacityService } from '../capacity-service.js';
import { shortfall, type Resources } from '../../domain/capacity.js';
import type { AgentGateway } from '../ports.js';
import { adminProjectId, listVmsWithServers, type VmLifecycleService } from '../vm-lifecycle-service.js';
import type { ManifestVm } from './manifest-file.js';
import { ACTING_KINDS, PLACED, planManifest, type ManifestVerb, type PlanStep, type StoredVm } from './manifest-plan.js';

/** A manifest VM with its template resolved. */
export type ResolvedVm = ManifestVm & { template: string };

/** A step after a verb ran: the action it queued (poll `action.show`), or why it failed. */
export interface StepResult extends PlanStep {
  /** The action id of a create/start/stop/delete; `""` for other steps. */
  actionId: string;
  /** Why the step failed (it was refused); `""` when it did not. */
  error: string;
}

/** One host's line of `vtctl capacity --manifest`: what the manifest's new VMs ask against what is free. MiB. */
export interface ManifestCapacityRow {
  host: string;
  /** VMs the build would create there (existing VMs are already in `available`). */
  newVms: number;
  vcpus: { asked: number; available: number | null };
  memoryMiB: { asked: number; available: number | null };
  diskMiB: { asked: number; available: number | null };
  /** `yes`, `no` (the first shortfall is in `why`) or `unknown` (the host never reported its size). */
  fits: 'yes' | 'no' | 'unknown';
  why: string;
}

const mib = (m: number) => `${m} MiB`;

/** See the file comment. */
export class ManifestService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly vms: VmLifecycleService,
    private readonly capacity: CapacityService,
    private readonly agents: AgentGateway,
  ) {}

  /** The VMs of `principal`'s project as the plan compares them. */
  async stored(principal: string): Promise<StoredVm[]> {
    const rows = await listVmsWithServers(this.tx.manager, adminProjectId(principal));
    return rows.map(({ vm, server }) => ({
      uuid: vm.uuid, name: vm.name, host: server, state: vm.state, vcpus: vm.vcpus, memoryMiB: vm.memoryMb, maxMemoryMiB: vm.maxMemoryMb,
      diskMiB: vm.hdSizeMb, dataDisksMiB: vm.dataDisksMb ? (JSON.parse(vm.dataDisksMb) as number[]) : [],
      ip: vm.interfaces?.find((i) => i.isMgmt)?.ip ?? null, hostname: vm.guestHostname ?? null, template: vm.hdOriginPath,
    }));
  }

  /**
   * The steps `verb` would run, reading only. A create is checked as far as reading allows: its host exists, is
   * enabled and not draining, the manifest's creates on it fit its free capacity (summed in manifest order; decision
   * 019), an `ipaddress` lies in a range the host subscribes to and is free; a failed check makes the step `refused`.
   * Placed VMs are left to placement at build time.
   * @throws InputError for a manifest VM with an `ipaddress` but no `host` (the address names a host's ranges).
   */
  async plan(principal: string, verb: ManifestVerb, want: ResolvedVm[], options: { reboot?: boolean } = {}): Promise<PlanStep[]> {
    if (options.reboot && verb !== 'sethostnames') throw new InputError('--reboot goes with sethostnames only');
    for (const vm of want) if (vm.ip && !vm.host) throw new InputError(`VM ${vm.name} (${vm.source}) has an ipaddress but no host: the address must lie in a range of its host`);
    const steps = planManifest(verb, want, await this.stored(principal), options);
    const byName = new Map(want.map((v) => [v.name, v]));
    const free = steps.some((s) => s.kind === 'create')
      ? new Map((await this.capacity.report(this.tx.manager)).map((r) => [r.host, r.memoryMiB.available === null || r.cpus.available === null || r.diskGiB.available === null ? null : { vcpus: r.cpus.available, memoryMiB: r.memoryMiB.available, diskMiB: Math.floor(r.diskGiB.available * 1024) }]))
      : new Map<string, Resources | null>();
    for (const step of steps) {
      if (step.kind !== 'create') continue;
      const vm = byName.get(step.vm)!;
      let why = await this.createRefusal(vm);
      const left = vm.host ? free.get(vm.host) : undefined;
      if (!why && left) {
        const asked: Resources = { vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, diskMiB: vm.diskMiB + vm.dataDisksMiB.reduce((a, b) => a + b, 0) };
        why = shortfall(vm.host!, left, asked);
        if (!why) free.set(vm.host!, { vcpus: left.vcpus - asked.vcpus, memoryMiB: left.memoryMiB - asked.memoryMiB, diskMiB: left.diskMiB - asked.diskMiB });
      }
      if (why) Object.assign(step, { kind: 'refused', detail: why });
    }
    return steps;
  }

  /**
   * Runs `verb`: the acting steps of {@link plan}, one at a time in manifest order (a create is stored and handed to
   * its agent before the next is placed). A step that fails is reported with its reason and the others still run.
   * `dumpxml` is {@link domainXml}; here it only plans.
   *
   * A `set-hostname` step (decision 024 §8) has the VM's agent rewrite its cloud-init seed (`set_guest_hostname`),
   * then stores the name on the VM row; with `reboot`, a running VM is then rebooted through a durable reboot action
   * (its `actionId`; the name is applied when it succeeds). When the agent could not give a running guest the new
   * seed medium, a reboot would not apply the name: the step says to stop and start the VM instead (and with
   * `reboot` it fails with that reason, the reboot not sent).
   */
  async run(principal: string, verb: ManifestVerb, want: ResolvedVm[], options: { keepDisks?: boolean; reboot?: boolean } = {}): Promise<StepResult[]> {
    if (options.keepDisks && verb !== 'delete') throw new InputError('--keep-disks goes with delete only');
    const steps = await this.plan(principal, verb, want, { reboot: options.reboot === true });
    const states = new Map(verb === 'sethostnames' ? (await this.stored(principal)).map((v) => [v.uuid, v.state]) : []);
    const byName = new Map(want.map((v) => [v.name, v]));
    const results: StepResult[] = [];
    for (const step of steps) {
      const result: StepResult = { ...step, actionId: '', error: '' };
      results.push(result);
      if (!ACTING_KINDS.includes(step.kind) || step.kind === 'dumpxml') continue;
      const vm = byName.get(step.vm)!;
      try {
        if (step.kind === 'create') {
          const t = await this.vms.create(principal, {
            name: vm.name, template: vm.template, ...(vm.host ? { host: vm.host } : {}), memoryMiB: vm.memoryMiB, vcpus: vm.vcpus, diskMiB: vm.diskMiB,
            ...(vm.maxMemoryMiB !== undefined ? { maxMemoryMiB: vm.maxMemoryMiB } : {}), dataDisksMiB: vm.dataDisksMiB, sshKeys: vm.sshKeys ?? [], users: [],
            ...(vm.ip ? { ip: vm.ip } : {}), bridges: vm.bridges ?? [], ...(vm.hostname ? { hostname: vm.hostname } : {}),
          });
          Object.assign(result, { actionId: t.actionId, uuid: t.vm, host: t.server });
        } else if (step.kind === 'set-hostname') {
          if (!this.agents.setGuestHostname) throw new InputError('this manager cannot rewrite guest seeds');
          const server = await new ServerRepository(this.tx.manager).findByName(step.host);
          if (!server) throw new NotFoundError(`no server ${step.host}`);
          const r = await this.agents.setGuestHostname(server, step.uuid, vm.hostname!);
          await this.tx.run((em) => new VmRepository(em).setGuestHostname(step.uuid, vm.hostname ?? null));
          const running = states.get(step.uuid) === 'running';
          if (running && r.medium !== 'swapped') {
            const why = `the running guest still has the old seed medium (${r.medium}): stop and start the VM to apply the name`;
            if (options.reboot) throw new ConflictError(`seed rewritten and name stored, reboot not sent: ${why}`);
            result.detail += `; ${why}`;
          } else if (running && options.reboot) {
            result.actionId = (await this.vms.act(principal, step.uuid, 'reboot')).actionId;
          }
        } else {
          const type = step.kind === 'start' ? 'start' : step.kind === 'stop' ? 'stop' : 'delete';
          const t = await this.vms.act(principal, step.uuid, type, type === 'delete' && options.keepDisks ? { keepDisks: true } : {});
          result.actionId = t.actionId;
        }
      } catch (err) {
        result.error = describeError(err);
      }
    }
    return results;
  }

  /**
   * The libvirt domain XML of every manifest VM that exists, read by its host's agent (`get_domain_xml`). A VM whose
   * XML cannot be read gets `error` instead.
   */
  async domainXml(principal: string, want: ResolvedVm[]): Promise<Array<{ vm: string; uuid: string; host: string; xml: string; error: string }>> {
    if (!this.agents.domainXml) throw new InputError('this manager cannot read domain XML');
    const steps = await this.plan(principal, 'dumpxml', want);
    const out: Array<{ vm: string; uuid: string; host: string; xml: string; error: string }> = [];
    for (const s of steps) {
      if (s.kind !== 'dumpxml') continue;
      try {
        const server = await new ServerRepository(this.tx.manager).findByName(s.host);
        if (!server) throw new NotFoundError(`no server ${s.host}`);
        out.push({ vm: s.vm, uuid: s.uuid, host: s.host, xml: await this.agents.domainXml(server, s.uuid), error: '' });
      } catch (err) {
        out.push({ vm: s.vm, uuid: s.uuid, host: s.host, xml: '', error: describeError(err) });
      }
    }
    return out;
  }

  /**
   * What a build of `want` would add per host against what is free (the capacity report of
   * {@link CapacityService.report}): only the VMs it would create count (existing ones are already promised). VMs
   * without a host are summed on a line `(placed)` against the free capacity of every up, enabled host.
   */
  async capacityReport(principal: string, want: ResolvedVm[]): Promise<ManifestCapacityRow[]> {
    const steps = await this.plan(principal, 'build', want);
    const byName = new Map(want.map((v) => [v.name, v]));
    const report = await this.capacity.report(this.tx.manager);
    const asked = new Map<string, { vms: number; vcpus: number; memoryMiB: number; diskMiB: number }>();
    for (const s of steps) {
      if (s.kind !== 'create' && s.kind !== 'refused') continue;
      const vm = byName.get(s.vm)!;
      const a = asked.get(s.host) ?? { vms: 0, vcpus: 0, memoryMiB: 0, diskMiB: 0 };
      a.vms++;
      a.vcpus += vm.vcpus;
      a.memoryMiB += vm.memoryMiB;
      a.diskMiB += vm.diskMiB + vm.dataDisksMiB.reduce((x, y) => x + y, 0);
      asked.set(s.host, a);
    }
    const rows: ManifestCapacityRow[] = [];
    const eligible = report.filter((r) => r.state === 'up');
    const sum = (f: (r: (typeof report)[number]) => number | null) => (eligible.some((r) => f(r) === null) || !eligible.length ? null : eligible.reduce((t, r) => t + (f(r) ?? 0), 0));
    const hosts = [...new Set([...report.map((r) => r.host), ...asked.keys()])].sort((a, b) => (a === PLACED ? 1 : b === PLACED ? -1 : a < b ? -1 : 1));
    for (const host of hosts) {
      const a = asked.get(host) ?? { vms: 0, vcpus: 0, memoryMiB: 0, diskMiB: 0 };
      const r = report.find((x) => x.host === host);
      const avail = host === PLACED
        ? { vcpus: sum((x) => x.cpus.available), memoryMiB: sum((x) => x.memoryMiB.available), diskMiB: sum((x) => (x.diskGiB.available === null ? null : Math.floor(x.diskGiB.available * 1024))) }
        : { vcpus: r?.cpus.available ?? null, memoryMiB: r?.memoryMiB.available ?? null, diskMiB: r?.diskGiB.available === null || r === undefined ? null : Math.floor(r.diskGiB.available * 1024) };
      let why = '';
      if (!r && host !== PLACED) why = `no server ${host}`;
      else if (avail.memoryMiB !== null && a.memoryMiB > avail.memoryMiB) why = `memory: ${mib(a.memoryMiB)} asked, ${mib(Math.max(0, avail.memoryMiB))} free`;
      else if (avail.vcpus !== null && a.vcpus > avail.vcpus) why = `vCPUs: ${a.vcpus} asked, ${Math.max(0, avail.vcpus)} free`;
      else if (avail.diskMiB !== null && a.diskMiB > avail.diskMiB) why = `disk: ${mib(a.diskMiB)} asked, ${mib(Math.max(0, avail.diskMiB))} free`;
      else if (r && r.state !== 'up' && a.vms > 0) why = `host is ${r.state}`;
      const unknown = avail.memoryMiB === null || avail.vcpus === null || avail.diskMiB === null;
      rows.push({
        host, newVms: a.vms, vcpus: { asked: a.vcpus, available: avail.vcpus }, memoryMiB: { asked: a.memoryMiB, available: avail.memoryMiB },
        diskMiB: { asked: a.diskMiB, available: avail.diskMiB }, fits: why ? 'no' : unknown ? 'unknown' : 'yes', why,
      });
    }
    return rows;
  }

  /** Why a create of `vm` would be refused, as far as reading tells (host, address); undefined when it would not. */
  private async createRefusal(vm: ResolvedVm): Promise<string | undefined> {
    const em = this.tx.manager;
    if (!vm.host) return undefined;
    const server = await new ServerRepository(em).findByNameOrUuid(vm.host);
    if (!server) return `no server ${vm.host}`;
    if (!server.enabled) return `server ${server.name} is disabled`;
    if (server.draining) return `server ${server.name} is draining`;
    if (!vm.ip) return undefined;
    const ranges = new RangeRepository(em);
    const subscribed = new Set((await ranges.subscriptions(server.id, 'ipv4')).map((s) => s.rangeId));
    const mine = (await ranges.list('ipv4')).filter((r) => subscribed.has(r.id));
    const n = ipv4ToInt(vm.ip);
    const range = mine.find((r) => n >= r.startAddress && n <= r.endAddress);
    if (!range) {
      const names = mine.map((r) => `${r.name} ${intToIpv4(r.startAddress)}-${intToIpv4(r.endAddress)}`);
      return `address ${vm.ip} lies in no IPv4 range of server ${server.name} (${names.length ? names.join(', ') : 'it subscribes to none'})`;
    }
    const slot = await new SlotRepository(em).find('ipv4', n);
    if (slot) return slot.excluded ? `address ${vm.ip} is excluded in range ${range.name}` : `address ${vm.ip} is taken (VM ${slot.vmUuid ?? '?'})`;
    return undefined;
  }
}
