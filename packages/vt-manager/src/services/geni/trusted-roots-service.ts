/**
 * The operator's view of the GENI trusted roots (`vtctl geni trust add|list|remove`, admin methods `geni.trust.*`):
 * add a checked authority certificate, list the anchors in force, remove one by file name. Every change is written
 * to the trusted-roots folder (atomically) and applied at once by reloading the store.
 */
import { ConflictError, InputError, NotFoundError } from '@kvm-crm/shared';
import { checkTrustedRootPem } from '../../domain/geni/trusted-root-certificate.js';
import { TRUSTED_ROOT_FILE_RE, type TrustedRootsStore } from '../../adapters/trusted-roots-store.js';

/** One trusted root as listed. */
export interface TrustedRootView {
  /** File name in the trusted-roots folder (what `remove` takes). */
  file: string;
  /** The anchor's URN, `''` when it has none. */
  urn: string;
  /** Subject DN, one line. */
  subject: string;
  /** End of validity, ISO 8601 UTC. */
  notAfter: string;
  /** SHA-256 fingerprint (`AA:BB:…`). */
  fingerprint: string;
}

/** Add, list and remove trusted roots. */
export class TrustedRootsService {
  constructor(private readonly store: TrustedRootsStore) {}

  /** The anchors in force, by file name. */
  list(): TrustedRootView[] {
    return this.store.current.roots.map((r) => ({
      file: r.file,
      urn: r.urn ?? '',
      subject: r.certificate.subject.replace(/\n/g, ', '),
      notAfter: new Date(r.certificate.validTo).toISOString(),
      fingerprint: r.certificate.fingerprint256,
    }));
  }

  /**
   * Checks `pem` ({@link checkTrustedRootPem}), writes it as `<authority>-<kind>.gid` and reloads.
   * @throws InputError for a certificate that is not a valid authority CA; ConflictError when that certificate is
   *   already trusted, or another certificate already has the file name.
   */
  add(pem: string): TrustedRootView {
    const candidate = checkTrustedRootPem(pem);
    const same = this.store.current.roots.find((r) => r.certificate.fingerprint256 === candidate.anchor.fingerprint256);
    if (same) throw new ConflictError(`this certificate (${candidate.urn}) is already trusted as ${same.file}`);
    if (this.store.hasFile(candidate.fileName)) {
      throw new ConflictError(`${candidate.fileName} already exists in ${this.store.dir} with another certificate: remove it first`);
    }
    this.store.writeRootFile(candidate.fileName, candidate.pem);
    const added = this.list().find((r) => r.file === candidate.fileName);
    if (!added) throw new Error(`${candidate.fileName} was written but not loaded (see the log)`);
    return added;
  }

  /**
   * Removes the file `name` from the folder and reloads.
   * @throws InputError for a name that is not `<name>.gid|.pem|.crt` without a path; NotFoundError when no such
   *   file is in the folder.
   */
  remove(name: string): { file: string; removed: true } {
    if (typeof name !== 'string' || !TRUSTED_ROOT_FILE_RE.test(name)) {
      throw new InputError(`not a trusted-root file name (letters, digits, . _ -, ending .gid, .pem or .crt): ${JSON.stringify(String(name).slice(0, 130))}`);
    }
    if (!this.store.hasFile(name)) throw new NotFoundError(`no trusted root file ${name} in ${this.store.dir}`);
    this.store.removeRootFile(name);
    return { file: name, removed: true };
  }
}
