/**
 * Swaps the seed CD-ROM medium of a running domain (decision 024 §8). A guest reboot (`virsh reboot`, ACPI) keeps
 * the QEMU process, and QEMU keeps the seed ISO it opened at start: a seed replaced by rename would not be seen
 * until the domain is stopped and started. Ejecting and re-inserting the medium makes QEMU open the new file
 * (libvirt only re-opens when the source changes, hence two steps: no medium, then the seed).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { seedCdromLines } from '../domain/domain-xml.js';

/** The part of `Virsh` this needs. */
export interface DeviceUpdater {
  updateDeviceLive(name: string, xmlFilePath: string, options?: { force?: boolean }): Promise<void>;
}

/**
 * Ejects the seed CD-ROM `hdc` of running domain `domain` (forced: the guest may have locked the tray) and inserts
 * `isoPath`, through `virsh update-device --live` with the same disk element the domain was defined with.
 * @throws what {@link DeviceUpdater.updateDeviceLive} throws (e.g. DomainStateError when it is not running).
 */
export async function replaceSeedMedium(virsh: DeviceUpdater, domain: string, isoPath: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kvmcrm-seed-medium-'));
  try {
    const eject = path.join(dir, 'eject.xml');
    const insert = path.join(dir, 'insert.xml');
    await writeFile(eject, `${seedCdromLines(null).join('\n')}\n`, { mode: 0o600 });
    await writeFile(insert, `${seedCdromLines(isoPath).join('\n')}\n`, { mode: 0o600 });
    await virsh.updateDeviceLive(domain, eject, { force: true });
    await virsh.updateDeviceLive(domain, insert);
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
