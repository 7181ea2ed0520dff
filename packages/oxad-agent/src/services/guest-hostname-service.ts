/**
 * `set_guest_hostname` (decision 024 §8): gives an existing VM a new guest host name by rewriting its cloud-init
 * NoCloud seed (`<storageRoot>/vms/<uuid>/seed.iso`) with the same instance id (domain/seed-hostname.ts says why).
 * cloud-init's `set_hostname`/`update_hostname` read the datasource's name at every boot, so the name applies at
 * the guest's next boot; a running guest keeps its name until it reboots (kvm-crm has no in-guest agent). For a
 * running domain the CD-ROM medium is swapped too (adapters/seed-medium.ts), so that a guest reboot (same QEMU
 * process) reads the new seed.
 */
import { ConflictError, describeError, NotFoundError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { GUEST_HOSTNAME_PATTERN, UUID_PATTERN, assertPattern } from '@kvm-crm/shared/validation';
import { rehostSeedFiles, seedInstanceId } from '../domain/seed-hostname.js';

/** What {@link GuestHostnameService} needs. */
export interface GuestHostnameDeps {
  /** The VM folders (only existence and the seed path are used). */
  vms: { exists(vmUuid: string): Promise<boolean>; paths(vmUuid: string): { seed: string } };
  /** Reads a seed ISO back (adapters/seed-iso.ts `readSeedIso`). */
  readSeed(isoPath: string): Promise<Record<string, string>>;
  /** Writes a seed ISO atomically (temporary file, then rename; adapters/seed-iso.ts `writeSeedIso`). */
  writeSeed(files: Record<string, string>, isoPath: string): Promise<void>;
  /** The VM's lock, shared with its provisioning actions (AgentProvisioningService.exclusive). */
  lock: { exclusive<T>(vmUuid: string, task: () => Promise<T>): Promise<T> };
  /** The domain's state (`virsh domstate`; undefined: no domain). */
  domState(name: string): Promise<string | undefined>;
  /** Makes a running domain's QEMU open the new seed (adapters/seed-medium.ts `replaceSeedMedium`). */
  replaceSeedMedium(domain: string, isoPath: string): Promise<void>;
  /** Prefix of the libvirt domain names: `<prefix><vm uuid>`. */
  domainPrefix: string;
  logger: Logger;
}

/** See the file comment. */
export class GuestHostnameService {
  constructor(private readonly d: GuestHostnameDeps) {}

  /**
   * Rewrites VM `vmUuid`'s seed with `hostname` (RFC 1123 dotted labels, shared GUEST_HOSTNAME_PATTERN) under the
   * VM's lock, keeping its instance id. Safe while the guest runs: the seed is a read-only CD-ROM that cloud-init
   * reads at boot, and the file is replaced by a rename (QEMU keeps the old inode open until the next boot).
   * @returns the previous `local-hostname` (`""` when none), the instance id kept, and `medium`: `swapped` (running
   *   domain: a reboot reads the new seed), `not running` (the next start reads it) or `not swapped: <why>` (a reboot
   *   would still read the old seed; a stop and start reads the new one).
   * @throws InputError for a bad uuid or host name, or a seed without an instance id; ConflictError when the seed's
   *   instance id is not the VM's uuid (not a seed kvm-crm wrote for it); NotFoundError when the host has no such VM or it has no seed;
   *   SeedIsoError when isoinfo/genisoimage fail (the old seed is then left as it was).
   */
  async setHostname(vmUuid: string, hostname: string): Promise<{ previous: string; instanceId: string; medium: string }> {
    const uuid = assertPattern(vmUuid, UUID_PATTERN, 'VM uuid').toLowerCase();
    const host = assertPattern(hostname, GUEST_HOSTNAME_PATTERN, 'guest host name');
    return this.d.lock.exclusive(uuid, async () => {
      if (!(await this.d.vms.exists(uuid))) throw new NotFoundError(`no VM ${uuid} on this host`);
      const iso = this.d.vms.paths(uuid).seed;
      const files = await this.d.readSeed(iso).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException)?.code === 'ENOENT' || /No such file|cannot open|Unable to open/i.test(String((err as Error)?.message))) throw new NotFoundError(`VM ${uuid} has no cloud-init seed on this host`);
        throw err;
      });
      if (files['meta-data'] === undefined) throw new NotFoundError(`VM ${uuid} has no cloud-init seed on this host`);
      const instanceId = seedInstanceId(files['meta-data']);
      if (instanceId !== uuid) throw new ConflictError(`the seed of VM ${uuid} names instance ${instanceId}: not rewritten`);
      const previous = /^local-hostname:[ \t]*"?([^"\s]*)"?/m.exec(files['meta-data'])?.[1] ?? '';
      await this.d.writeSeed(rehostSeedFiles(files, host), iso);
      const domain = `${this.d.domainPrefix}${uuid}`;
      let medium = 'not running';
      const state = await this.d.domState(domain);
      if (state === 'running' || state === 'paused') {
        try {
          await this.d.replaceSeedMedium(domain, iso);
          medium = 'swapped';
        } catch (err) {
          medium = `not swapped: ${describeError(err)}`;
        }
      }
      this.d.logger.info('seed rewritten with a new host name', { vm: uuid, previous, hostname: host, medium });
      return { previous, instanceId, medium };
    });
  }
}
