/**
 * Who a libvirt domain is in OCF terms: the VM `name` and `uuid` that `listActiveVMs` results and libvirt events
 * carry (docs/ocf-protocol.md §6.8). Read from our `<metadata>` element (domain/domain-xml.ts: `vm-name`, `vm-uuid`);
 * a domain without it (or with a damaged one) is named by its libvirt domain name and libvirt UUID.
 *
 * Identities are cached per domain name: a VM's name and uuid never change while its domain exists, and an
 * `Undefined` event must still be reported with the VM's name after the domain is gone.
 */
import { NotFoundError, describeError } from '@kvm-crm/shared/errors';
import type { Logger } from '@kvm-crm/shared/logger';
import { UUID_PATTERN } from '@kvm-crm/shared/validation';
import { parseDomainMetadata } from '../domain/domain-xml.js';
import type { DomainXmlReader } from './ports.js';

/** A VM as OCF names it. */
export interface VmIdentity {
  /** VM name (our metadata's `vm-name`), or the libvirt domain name. */
  name: string;
  /** VM uuid (our metadata's `vm-uuid`), or the libvirt domain UUID; lower case. */
  uuid: string;
}

/** What {@link vmIdentityFromDomainXml} found. */
export interface DomainXmlIdentity {
  identity: VmIdentity;
  /** The domain's own `<uuid>` (lower case). */
  libvirtUuid: string;
  /** Why our metadata was not used although the element exists (damaged); undefined otherwise. */
  damagedMetadata?: string;
}

/**
 * Identity of a domain from its XML (`virsh dumpxml`): metadata `vm-name`/`vm-uuid` when present, else the domain
 * name and its `<uuid>`.
 * @returns undefined when the XML has no valid domain `<uuid>` (not a domain XML).
 * @throws nothing.
 */
export function vmIdentityFromDomainXml(domainName: string, xml: string): DomainXmlIdentity | undefined {
  // The domain's <uuid> is a direct child printed right after <name>; our metadata uses prefixed tags.
  const libvirtUuid = /<uuid>\s*([^<\s]+)\s*<\/uuid>/.exec(xml)?.[1];
  if (libvirtUuid === undefined || !UUID_PATTERN.test(libvirtUuid)) return undefined;
  const fallback = { name: domainName, uuid: libvirtUuid.toLowerCase() };
  try {
    const meta = parseDomainMetadata(xml);
    if (!meta) return { identity: fallback, libvirtUuid: fallback.uuid };
    return { identity: { name: meta.vmName, uuid: meta.vmUuid.toLowerCase() }, libvirtUuid: fallback.uuid };
  } catch (err) {
    return { identity: fallback, libvirtUuid: fallback.uuid, damagedMetadata: describeError(err) };
  }
}

/** Options of {@link VmIdentityResolver}. */
export interface VmIdentityResolverOptions {
  /** Prefix of our domain names (`<prefix><vm uuid>`), used to name a domain that is already gone. */
  domainPrefix: string;
  logger: Logger;
  /** Most identities kept; the oldest is dropped beyond. Default 4096. */
  maxEntries?: number;
}

interface Cached {
  identity: VmIdentity;
  libvirtUuid: string;
}

/** Resolves and caches {@link VmIdentity}s of libvirt domains. */
export class VmIdentityResolver {
  private readonly cache = new Map<string, Promise<Cached | undefined>>();
  /** Names {@link remember}ed and not yet asked with `refresh`: their `Defined` event needs no read. */
  private readonly primed = new Set<string>();
  private readonly maxEntries: number;

  constructor(
    private readonly reader: DomainXmlReader,
    private readonly options: VmIdentityResolverOptions,
  ) {
    this.maxEntries = options.maxEntries ?? 4096;
  }

  /**
   * The identity of domain `domainName`, from the cache or from its XML. Concurrent calls share one read.
   * @param opts.libvirtUuid the domain's libvirt UUID when the caller knows it: a cached entry for another UUID
   *   (a domain redefined under the same name) is read again.
   * @param opts.refresh read the XML even when cached (after a `Defined` event).
   * @returns undefined when no such domain exists.
   * @throws the reader's errors other than NotFoundError (libvirt unreachable…).
   */
  async resolve(domainName: string, opts: { libvirtUuid?: string; refresh?: boolean } = {}): Promise<VmIdentity | undefined> {
    const primed = opts.refresh === true && this.primed.delete(domainName);
    let entry = opts.refresh && !primed ? undefined : this.cache.get(domainName);
    if (entry && opts.libvirtUuid !== undefined) {
      const cached = await entry.catch(() => undefined); // a failed earlier read is simply read again below
      if (cached?.libvirtUuid !== opts.libvirtUuid.toLowerCase()) entry = undefined;
    }
    entry ??= this.read(domainName);
    return (await entry)?.identity;
  }

  /**
   * Tells the identity of a domain this agent is about to define from XML it rendered itself (the `<metadata>`
   * `vm-name`/`vm-uuid` and `<uuid>` it wrote), so that the `Defined` event that follows needs no `virsh dumpxml`
   * (one virsh run less while the VM's start begins, issue #14 goal 3). The next `refresh` takes it once; later
   * `Defined` events (a redefinition) read the XML again. Call {@link forget} when the define failed.
   */
  remember(domainName: string, identity: VmIdentity, libvirtUuid: string): void {
    this.cache.delete(domainName);
    this.cache.set(domainName, Promise.resolve({ identity: { name: identity.name, uuid: identity.uuid.toLowerCase() }, libvirtUuid: libvirtUuid.toLowerCase() }));
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.primed.add(domainName);
  }

  /** Drops what {@link remember} told about `domainName` (its define failed). */
  forget(domainName: string): void {
    if (this.primed.delete(domainName)) this.cache.delete(domainName);
  }

  /**
   * For a domain that was just undefined: its cached identity (waiting for a read in flight), else a read (a
   * domain undefined while it runs still exists, as a transient one), else {@link identityFromName}. Drops the
   * cache entry at once, so that a domain defined again under the same name is read afresh.
   * @returns undefined when nothing is known and the name is not `<prefix><uuid>`.
   * @throws nothing.
   */
  async release(domainName: string): Promise<VmIdentity | undefined> {
    const entry = this.cache.get(domainName);
    this.cache.delete(domainName);
    this.primed.delete(domainName);
    // Never throws: a failed read (libvirt down, domain gone) falls back to the identity implied by the name.
    let found = entry ? await entry.catch(() => undefined) : undefined;
    if (!found) {
      found = await this.read(domainName).catch(() => undefined);
      this.cache.delete(domainName);
    }
    return found?.identity ?? this.identityFromName(domainName);
  }

  /**
   * The identity implied by a domain name of ours, `<prefix><vm uuid>`: that uuid, and the domain name as name.
   * @returns undefined for any other name.
   */
  identityFromName(domainName: string): VmIdentity | undefined {
    if (!domainName.startsWith(this.options.domainPrefix)) return undefined;
    const uuid = domainName.slice(this.options.domainPrefix.length);
    return UUID_PATTERN.test(uuid) ? { name: domainName, uuid: uuid.toLowerCase() } : undefined;
  }

  /** Reads the XML and caches the result; failed or empty reads are not kept. */
  private read(domainName: string): Promise<Cached | undefined> {
    const entry = (async (): Promise<Cached | undefined> => {
      let xml: string;
      try {
        xml = await this.reader.dumpXml(domainName);
      } catch (err) {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      }
      const found = vmIdentityFromDomainXml(domainName, xml);
      if (!found) {
        this.options.logger.warn('domain XML without a valid uuid', { domain: domainName });
        return undefined;
      }
      if (found.damagedMetadata) {
        this.options.logger.warn('damaged kvm-crm metadata: naming the VM by its domain', { domain: domainName, error: found.damagedMetadata });
      }
      return { identity: found.identity, libvirtUuid: found.libvirtUuid };
    })();
    this.cache.delete(domainName);
    this.cache.set(domainName, entry);
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    void entry.then(
      (value) => {
        if (value === undefined && this.cache.get(domainName) === entry) this.cache.delete(domainName);
      },
      () => {
        if (this.cache.get(domainName) === entry) this.cache.delete(domainName);
      },
    );
    return entry;
  }
}
