/**
 * The agent's `start` action on a domain and the autostart mark it sets (decisions 017 and 037, issue #14 goal 3).
 */
import { ConflictError, describeError, NotFoundError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import type { DomainControl } from './ports.js';

/**
 * Marks a domain the agent started as autostart, so that libvirtd starts it again after a host reboot (decision
 * 017). The guest already runs: a failure is returned as a note for the SUCCESS description (and logged), never
 * thrown.
 * @returns undefined when the mark is set, else the note.
 */
export async function markAutostart(domains: Pick<DomainControl, 'setAutostart'>, name: string, log: Logger): Promise<string | undefined> {
  try {
    await domains.setAutostart(name, true);
    return undefined;
  } catch (err) {
    log.warn('autostart not set', { domain: name, error: describeError(err) });
    return `autostart not set (the VM will not come back after a host reboot): ${describeError(err)}`;
  }
}

/**
 * start: `virsh start` and `virsh autostart` at once, with no state query before them (one virsh run less on the
 * way to SUCCESS). The state is read only after a failed start: a domain that runs (it already did: libvirt's
 * "already active", a ConflictError; or virsh was killed by its timeout while libvirtd went on starting it) is a
 * SUCCESS whose description says so; otherwise the autostart mark is cleared again, so that a VM that did not start
 * is not started at the next host boot, and the start's error is thrown.
 * @returns the SUCCESS description's detail, or undefined.
 * @throws NotFoundError `no domain <name> on this host`; the start's own error (DomainStateError for a paused
 *   domain, VirshError) when the domain does not run afterwards.
 */
export async function startDomain(domains: Pick<DomainControl, 'start' | 'setAutostart' | 'domState'>, name: string, log: Logger): Promise<string | undefined> {
  const [started, marked] = await Promise.allSettled([domains.start(name), markAutostart(domains, name, log)]);
  const note = marked.status === 'fulfilled' ? marked.value : undefined;
  if (started.status === 'fulfilled') return note;
  if (started.reason instanceof NotFoundError) throw new NotFoundError(`no domain ${name} on this host`);
  const state = await domains.domState(name).catch(() => undefined);
  if (state === 'running') {
    const how = started.reason instanceof ConflictError ? 'already running' : `the domain runs, though virsh start failed: ${describeError(started.reason)}`;
    if (!(started.reason instanceof ConflictError)) log.warn('start failed but the domain runs', { domain: name, error: describeError(started.reason) });
    return [how, note].filter(Boolean).join('; ');
  }
  await domains.setAutostart(name, false).catch((err: unknown) => log.warn('autostart not cleared after a failed start', { domain: name, error: describeError(err) }));
  throw started.reason;
}
