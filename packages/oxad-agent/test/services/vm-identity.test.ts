/**
 * Unit tests of VmIdentityResolver and vmIdentityFromDomainXml. The domain XML reader (libvirt's `dumpxml`) is an
 * in-memory fake for unit tests; the XML is rendered by the real renderDomainXml.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, NotFoundError, UpstreamError } from '@kvm-crm/shared';
import { renderDomainXml } from '../../dist/domain/domain-xml.js';
import { VmIdentityResolver, vmIdentityFromDomainXml } from '../../dist/services/vm-identity.js';
import type { DomainXmlReader } from '../../dist/services/ports.js';

const logger = createLogger({ component: 'test', silent: true });
const PREFIX = 'kvmcrm-';
const UUID_A = 'c0ffee00-1234-4abc-8def-0123456789ab';
const UUID_B = '0badcafe-0000-4000-8000-000000000042';

function ourXml(vmUuid: string, vmName: string, libvirtUuid = vmUuid): string {
  return renderDomainXml({
    name: `${PREFIX}${vmUuid}`, uuid: libvirtUuid, title: vmName, domainType: 'qemu', memoryMiB: 64, vcpus: 1,
    diskPath: '/var/lib/kvm-crm/vms/x/disk.qcow2', backing: { path: '/var/lib/kvm-crm/templates/t/disk.qcow2', format: 'qcow2' },
    seedIsoPath: '/var/lib/kvm-crm/vms/x/seed.iso', serialLogPath: '/var/lib/kvm-crm/vms/x/console.log', nics: [],
    metadata: { vmUuid, vmName, projectId: 'p', sliceId: 's', actionId: 'a', template: 't' },
  });
}

/** `virsh dumpxml` in memory: domain name → XML; counts reads; `delayMs` delays answers (widens race windows). */
class FakeXmlReader implements DomainXmlReader {
  readonly xml = new Map<string, string>();
  reads = 0;
  delayMs = 0;
  failWith: Error | undefined;
  async dumpXml(name: string): Promise<string> {
    this.reads++;
    // libvirt answers from the state at call time; the answer then takes `delayMs` to arrive.
    const xml = this.xml.get(name);
    const failure = this.failWith;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (failure) throw failure;
    if (xml === undefined) throw new NotFoundError(`libvirt domain ${name} not found`);
    return xml;
  }
}

test('vmIdentityFromDomainXml: metadata name and uuid; the domain name and libvirt uuid without it', () => {
  assert.deepEqual(vmIdentityFromDomainXml(`${PREFIX}${UUID_A}`, ourXml(UUID_A, 'web01')), {
    identity: { name: 'web01', uuid: UUID_A }, libvirtUuid: UUID_A,
  });
  const foreign = `<domain type='kvm' id='4'>\n  <name>other</name>\n  <uuid>${UUID_B.toUpperCase()}</uuid>\n</domain>`;
  assert.deepEqual(vmIdentityFromDomainXml('other', foreign), { identity: { name: 'other', uuid: UUID_B }, libvirtUuid: UUID_B });
  const damaged = ourXml(UUID_A, 'web01').replace(/<kvmcrm:vm-name>web01<\/kvmcrm:vm-name>/, '');
  const r = vmIdentityFromDomainXml('d', damaged);
  assert.deepEqual(r?.identity, { name: 'd', uuid: UUID_A });
  assert.match(r?.damagedMetadata ?? '', /damaged kvm-crm metadata/);
  assert.equal(vmIdentityFromDomainXml('d', '<domain><name>d</name></domain>'), undefined);
  assert.equal(vmIdentityFromDomainXml('d', '<domain><uuid>not-a-uuid</uuid></domain>'), undefined);
});

test('resolve reads once, shares a read in flight, and caches', async () => {
  const reader = new FakeXmlReader();
  reader.xml.set(`${PREFIX}${UUID_A}`, ourXml(UUID_A, 'web01'));
  reader.delayMs = 20;
  const ids = new VmIdentityResolver(reader, { domainPrefix: PREFIX, logger });
  const [a, b] = await Promise.all([ids.resolve(`${PREFIX}${UUID_A}`), ids.resolve(`${PREFIX}${UUID_A}`)]);
  assert.deepEqual(a, { name: 'web01', uuid: UUID_A });
  assert.deepEqual(b, a);
  assert.equal(reader.reads, 1);
  assert.deepEqual(await ids.resolve(`${PREFIX}${UUID_A}`, { libvirtUuid: UUID_A.toUpperCase() }), a);
  assert.equal(reader.reads, 1, 'same libvirt uuid: cached');
  await ids.resolve(`${PREFIX}${UUID_A}`, { refresh: true });
  assert.equal(reader.reads, 2, 'refresh reads again');
  await ids.resolve(`${PREFIX}${UUID_A}`, { libvirtUuid: UUID_B });
  assert.equal(reader.reads, 3, 'another libvirt uuid (redefined): read again');
});

test('resolve: undefined for a missing domain, errors thrown and not cached', async () => {
  const reader = new FakeXmlReader();
  const ids = new VmIdentityResolver(reader, { domainPrefix: PREFIX, logger });
  assert.equal(await ids.resolve('kvmcrm-gone'), undefined);
  reader.failWith = new UpstreamError('libvirt unreachable');
  await assert.rejects(ids.resolve('kvmcrm-x'), /libvirt unreachable/);
  reader.failWith = undefined;
  reader.xml.set('kvmcrm-x', ourXml(UUID_A, 'x1'));
  assert.deepEqual(await ids.resolve('kvmcrm-x'), { name: 'x1', uuid: UUID_A }, 'the failure was not cached');
  assert.equal(reader.reads, 3);
});

test('release: the cached identity after the domain is gone, else the name, and forgets it', async () => {
  const reader = new FakeXmlReader();
  const name = `${PREFIX}${UUID_A}`;
  reader.xml.set(name, ourXml(UUID_A, 'web01'));
  reader.delayMs = 20;
  const ids = new VmIdentityResolver(reader, { domainPrefix: PREFIX, logger });
  // Defined then Undefined in quick succession: the read of the first serves the second.
  const defined = ids.resolve(name, { refresh: true });
  const released = ids.release(name);
  reader.xml.delete(name);
  assert.deepEqual(await defined, { name: 'web01', uuid: UUID_A });
  assert.deepEqual(await released, { name: 'web01', uuid: UUID_A });
  assert.equal(reader.reads, 1);
  // Forgotten: a new domain under that name is read afresh.
  assert.equal(await ids.resolve(name), undefined);
  // Nothing cached and gone: named by `<prefix><uuid>`; any other name is unknown.
  assert.deepEqual(await ids.release(`${PREFIX}${UUID_B.toUpperCase()}`), { name: `${PREFIX}${UUID_B.toUpperCase()}`, uuid: UUID_B });
  assert.equal(await ids.release(`${PREFIX}warmup`), undefined);
  assert.equal(await ids.release(`other-${UUID_B}`), undefined);
  reader.failWith = new UpstreamError('libvirt unreachable');
  assert.deepEqual(await ids.release(`${PREFIX}${UUID_B}`), { name: `${PREFIX}${UUID_B}`, uuid: UUID_B }, 'never throws');
});

test('release of a domain undefined while running (still there, transient) reads it', async () => {
  const reader = new FakeXmlReader();
  reader.xml.set('kvmcrm-running', ourXml(UUID_A, 'web01'));
  const ids = new VmIdentityResolver(reader, { domainPrefix: PREFIX, logger });
  assert.deepEqual(await ids.release('kvmcrm-running'), { name: 'web01', uuid: UUID_A });
  reader.xml.delete('kvmcrm-running');
  assert.equal(await ids.resolve('kvmcrm-running'), undefined, 'not kept after release');
});

test('keeps at most maxEntries identities', async () => {
  const reader = new FakeXmlReader();
  for (const u of [UUID_A, UUID_B]) reader.xml.set(`${PREFIX}${u}`, ourXml(u, 'n'));
  const ids = new VmIdentityResolver(reader, { domainPrefix: PREFIX, logger, maxEntries: 1 });
  await ids.resolve(`${PREFIX}${UUID_A}`);
  await ids.resolve(`${PREFIX}${UUID_B}`);
  await ids.resolve(`${PREFIX}${UUID_B}`);
  assert.equal(reader.reads, 2);
  await ids.resolve(`${PREFIX}${UUID_A}`);
  assert.equal(reader.reads, 3, 'the oldest entry was dropped');
});

test('remember: the Defined event after our own define needs no read; the next refresh reads; forget drops it', async () => {
  const reader = new FakeXmlReader();
  const name = `${PREFIX}${UUID_A}`;
  reader.xml.set(name, ourXml(UUID_A, 'renamed')); // what libvirt would answer after a later redefinition
  const ids = new VmIdentityResolver(reader, { domainPrefix: PREFIX, logger });
  ids.remember(name, { name: 'web01', uuid: UUID_A.toUpperCase() }, UUID_A);
  assert.deepEqual(await ids.resolve(name), { name: 'web01', uuid: UUID_A }, 'plain resolve: the remembered identity');
  assert.deepEqual(await ids.resolve(name, { refresh: true }), { name: 'web01', uuid: UUID_A }, 'the first Defined event: no read');
  assert.equal(reader.reads, 0);
  assert.deepEqual(await ids.resolve(name, { refresh: true }), { name: 'renamed', uuid: UUID_A }, 'a later Defined event reads again');
  assert.equal(reader.reads, 1);

  const other = `${PREFIX}${UUID_B}`;
  ids.remember(other, { name: 'db01', uuid: UUID_B }, UUID_B);
  ids.forget(other); // its define failed
  assert.equal(await ids.resolve(other), undefined, 'forgotten: read, and libvirt has no such domain');
  assert.equal(reader.reads, 2);
  ids.forget(name); // not primed any more: the cached read stays
  assert.deepEqual(await ids.resolve(name), { name: 'renamed', uuid: UUID_A });
  assert.equal(reader.reads, 2);
});
