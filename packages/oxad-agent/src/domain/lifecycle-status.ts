/**
 * Maps a libvirt lifecycle event (as `virsh event` prints it: event type and detail) to the VM status an OCF
 * libvirt event carries (docs/ocf-protocol.md §6.8: Defined, Undefined, Started, Suspended, Resumed, Stopped, UNKNOWN).
 *
 * | libvirt event  | detail (virsh text)                                    | OCF status     |
 * |----------------|--------------------------------------------------------|----------------|
 * | `Defined`      | any (Added, Updated, Renamed, Snapshot)                | `Defined`      |
 * | `Undefined`    | any (Removed, Renamed)                                 | `Undefined`    |
 * | `Started`      | any (Booted, Migrated, Restored, Snapshot, Event wakeup) | `Started`    |
 * | `Suspended`    | any (Paused, I/O Error, Watchdog, API error, …)        | `Suspended`    |
 * | `Resumed`      | any (Unpaused, Migrated, Snapshot, …)                  | `Resumed`      |
 * | `Stopped`      | any (Shutdown, Destroyed, Crashed, Migrated, Saved, Failed, Snapshot) | `Stopped` |
 * | `PMSuspended`  | any (Memory, Disk): the guest suspended itself (S3/S4) | `Suspended`    |
 * | `Crashed`      | `Panicked`                                             | `Stopped`      |
 * | `Crashed`      | anything else (e.g. `Crashloaded`)                     | `UNKNOWN`      |
 * | `Shutdown`     | any (Finished, Finished after guest/host request)      | not forwarded  |
 * | anything else  |                                                        | `UNKNOWN`      |
 *
 * Why:
 * - `Crashed Panicked` → `Stopped`: our domains have `<on_crash>destroy</on_crash>` (domain-xml.ts), so a guest
 *   that panicked is being powered off; the manager knows only running/stopped/unknown (§5.4) and `Stopped` is the
 *   state it ends in. libvirt then also emits `Stopped Crashed`, a repeat the manager applies idempotently. The
 *   crash itself stays visible in the agent log (event and detail are logged). `Crashloaded` means the guest loaded
 *   a crash kernel and still runs, so it is `UNKNOWN`.
 * - `Shutdown` is not forwarded: it only says the guest finished its shutdown sequence and is always followed by
 *   `Stopped` (`<on_poweroff>destroy</on_poweroff>`). Sending `UNKNOWN` first would flip the VM to `unknown` on
 *   every stop, and on the original manager, which handles each `sendAsync` in its own thread with no ordering
 *   (§5.1), it could even overtake the `Stopped` and leave the VM `unknown`.
 * - `PMSuspended` → `Suspended`: the guest is not running and resumes only on a wake-up, which libvirt reports as
 *   `Started Event wakeup`.
 */
import type { LibvirtEventVmStatus } from '@kvm-crm/shared/rspec';

const DIRECT: Record<string, LibvirtEventVmStatus> = {
  Defined: 'Defined',
  Undefined: 'Undefined',
  Started: 'Started',
  Suspended: 'Suspended',
  Resumed: 'Resumed',
  Stopped: 'Stopped',
  PMSuspended: 'Suspended',
};

/**
 * The OCF VM status for a libvirt lifecycle event (see the table above).
 * @param event libvirt event type as virsh prints it (`Started`).
 * @param detail its detail (`Booted`), `''` when none.
 * @returns the status, or undefined when the event is not forwarded (`Shutdown`).
 * @throws nothing.
 */
export function ocfStatusForLifecycleEvent(event: string, detail: string): LibvirtEventVmStatus | undefined {
  if (Object.hasOwn(DIRECT, event)) return DIRECT[event];
  if (event === 'Shutdown') return undefined;
  if (event === 'Crashed') return detail === 'Panicked' ? 'Stopped' : 'UNKNOWN';
  return 'UNKNOWN';
}
