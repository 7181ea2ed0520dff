/**
 * The domain XML of a migrated VM on its new host (domain/migrated-domain-xml.ts, decision record 025): built from a
 * domain rendered as the agent renders it, checked for what changes (name, paths, type, bridges, backing store) and
 * what must not (UUID, MACs, memory, metadata).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderDomainXml, parseDomainMetadata } from '../../dist/domain/domain-xml.js';
import { rewriteDomainXmlForHost } from '../../dist/domain/migrated-domain-xml.js';

const VM = '3f2c1a9e-5b7d-4c1e-9a2b-0123456789ab';
const SRC = `/srv/a/vms/${VM}`;
const DST = `/data/b/vms/${VM}`;
const xml = renderDomainXml({
  name: `h1-${VM}`, uuid: VM, title: 'vm1', domainType: 'kvm', memoryMiB: 512, maxMemoryMiB: 1024, vcpus: 2,
  diskPath: `${SRC}/disk.qcow2`, backing: { path: '/srv/a/templates/tiny/tiny.qcow2', format: 'qcow2' },
  seedIsoPath: `${SRC}/seed.iso`, dataDisks: [`${SRC}/data-vdb.qcow2`], serialLogPath: `${SRC}/console.log`,
  nics: [{ mac: '02:fe:00:00:00:01', bridge: 'bra' }, { mac: '02:fe:00:00:00:02', bridge: 'brdata' }],
  metadata: { vmUuid: VM, vmName: 'vm1', projectId: 'p1', sliceId: 's1', actionId: 'a1', template: 'tiny' },
});
const base = { name: `h2-${VM}`, sourceDir: SRC, targetDir: DST, domainType: 'qemu' as const, bridges: { bra: 'brb', brdata: 'brdata' } };

test('overlay: name, folder paths, domain type, bridges and template path change; UUID, MACs, memory and metadata stay', () => {
  const out = rewriteDomainXmlForHost(xml, { ...base, backing: { path: '/data/b/templates/tiny/tiny.qcow2', format: 'qcow2' } });
  assert.ok(!out.includes('/srv/a/'), out);
  assert.match(out, new RegExp(`<name>h2-${VM}</name>`));
  assert.match(out, /<domain type='qemu'/);
  for (const f of ['disk.qcow2', 'seed.iso', 'data-vdb.qcow2', 'console.log']) assert.ok(out.includes(`${DST}/${f}`), f);
  assert.match(out, /<source bridge='brb'/);
  assert.match(out, /<source bridge='brdata'/);
  assert.match(out, /<source file='\/data\/b\/templates\/tiny\/tiny.qcow2'/);
  assert.match(out, new RegExp(`<uuid>${VM}</uuid>`));
  assert.match(out, /02:fe:00:00:00:01/);
  assert.match(out, /02:fe:00:00:00:02/);
  assert.deepEqual(parseDomainMetadata(out), parseDomainMetadata(xml));
  assert.equal(out.replace(/\s/g, '').length > 0, true);
  assert.equal((out.match(/<memory/g) ?? []).length, (xml.match(/<memory/g) ?? []).length);
});

test('flattened disk: the backing store goes; a bridge with no counterpart is refused, naming it', () => {
  const out = rewriteDomainXmlForHost(xml, base);
  assert.ok(!out.includes('tiny.qcow2'), 'no template reference left');
  assert.throws(() => rewriteDomainXmlForHost(xml, { ...base, bridges: { bra: 'brb' } }), /bridge brdata, which has no counterpart/);
  assert.throws(() => rewriteDomainXmlForHost(xml, { ...base, sourceDir: '/elsewhere' }), /no system disk in the source VM folder/);
});
