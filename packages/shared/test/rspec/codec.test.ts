/**
 * Fixture tests for the rspec codec and builders against shared/ocf-fixtures (docs/ocf-protocol.md §6, §8, §10).
 *
 * - generated/*.rspec.xml are byte-exact output of the original serialiser: parse → serialise must reproduce them,
 *   except where the original itself drops empty elements (§6.1 rule 6), checked against the manager-forwarded copy;
 * - the hand-written originals must parse, and survive parse → serialise → parse unchanged;
 * - the XML-RPC bodies must carry exactly the sibling rspec;
 * - manager-tests/xmltest.xml is not well-formed and must be rejected.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../../dist/errors.js';
import {
  informationResponse,
  libvirtEventResponse,
  listActiveVmsQuery,
  monitoringResponse,
  policyRejectionResponse,
  provisioningStatusResponse,
} from '../../dist/rspec/builders.js';
import { fixturesDir, listXmlFixtures, readFixture } from '../../dist/testing/index.js';
import type { Rspec, ServerInformation } from '../../dist/rspec/model.js';
import { parseRspec } from '../../dist/rspec/parse.js';
import { serialiseRspec, type RspecDialect } from '../../dist/rspec/serialise.js';

const DIR = fixturesDir();
const FILES = listXmlFixtures(DIR);
const read = (rel: string): string => readFixture(rel, DIR);
const dialectOf = (xml: string): RspecDialect => (xml.includes('<rspec xmlns=') ? 'agent' : 'manager');

const G = {
  create01: 'generated/01-plugin-to-manager.send.create.rspec.xml',
  create02: 'generated/02-manager-to-agent.send.create.rspec.xml',
  ongoing03: 'generated/03-agent-to-manager.sendAsync.provisioning.ONGOING.rspec.xml',
  ongoing04: 'generated/04-manager-to-plugin.sendAsync.provisioning.ONGOING.rspec.xml',
  success05: 'generated/05-agent-to-manager.sendAsync.provisioning.SUCCESS.rspec.xml',
  success06: 'generated/06-manager-to-plugin.sendAsync.provisioning.SUCCESS.rspec.xml',
  failed07: 'generated/07-agent-to-manager.sendAsync.provisioning.FAILED.rspec.xml',
  failed08: 'generated/08-manager-to-plugin.sendAsync.provisioning.FAILED.rspec.xml',
  policy09: 'generated/09-manager-to-plugin.sendAsync.provisioning.policy-FAILED.rspec.xml',
  hardStop10: 'generated/10-plugin-to-manager.send.hardStop.rspec.xml',
  listQuery11: 'generated/11-manager-to-agent.send.listActiveVMs.rspec.xml',
  monOngoing12: 'generated/12-agent-to-manager.sendAsync.monitoring.ONGOING.rspec.xml',
  monSuccess13: 'generated/13-agent-to-manager.sendAsync.monitoring.SUCCESS.rspec.xml',
  event14: 'generated/14-agent-to-manager.sendAsync.monitoring.libvirt-callback.rspec.xml',
  event15: 'generated/15-manager-to-plugin.sendAsync.monitoring.libvirt-callback.rspec.xml',
  info16: 'generated/16-manager-to-plugin.listResources.information.rspec.xml',
  infoEmpty17: 'generated/17-manager-to-plugin.listResources.information.empty.rspec.xml',
} as const;

const ACTION_ID = 'a1b2c3d4-0000-4000-8000-00000000c0de';
const SERVER_UUID = '7d1c6a52-3f0e-4c1b-9a57-2b8e0c4d9f11';
const VM_UUID = 'c0ffee00-1234-4abc-8def-0123456789ab';
const MON_ID = '5e5e5e5e-aaaa-4bbb-8ccc-dddddddddddd';

/** Agent messages whose `<description></description>` the original drops on re-serialisation (§6.1 rule 6). */
const EMPTY_DESCRIPTION_DROPPED = new Set<string>([G.ongoing03, G.success05, G.monOngoing12]);
/** Agent message → the manager's forwarded copy (§5.3 step 5, §5.4, §6.6): type from the DB, no namespace. */
const FORWARDED: readonly { from: string; to: string; type?: string }[] = [
  { from: G.ongoing03, to: G.ongoing04, type: 'create' },
  { from: G.success05, to: G.success06, type: 'create' },
  { from: G.failed07, to: G.failed08, type: 'create' },
  { from: G.event14, to: G.event15 },
];

/** Pulls `<string>` values out of an XML-RPC body and undoes xmlrpclib's escaping. */
function xmlRpcStrings(body: string): string[] {
  return [...body.matchAll(/<string>([\s\S]*?)<\/string>/g)].map((m) =>
    m[1]!.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) => {
      if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
      if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
      return ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[e]!;
    }),
  );
}

describe('fixture inventory', () => {
  it('finds all 56 XML fixtures, including every generated rspec and xmltest.xml', () => {
    assert.equal(FILES.length, 56, FILES.join('\n'));
    for (const rel of [...Object.values(G), 'manager-tests/xmltest.xml', 'agent-utils-xml/query.xml']) {
      assert.ok(FILES.includes(rel), `missing fixture ${rel}`);
    }
    assert.equal(FILES.filter((f) => f.startsWith('generated/') && f.endsWith('.rspec.xml')).length, 17);
  });
});

describe('every fixture parses (except xmltest.xml, which is not well-formed)', () => {
  for (const rel of FILES) {
    if (rel === 'manager-tests/xmltest.xml') {
      it(`${rel} is rejected with a clear InputError`, () => {
        assert.throws(
          () => parseRspec(read(rel)),
          (e: unknown) =>
            e instanceof InputError && /^not well-formed XML: .+ at line 2, column \d+$/.test(e.message) && e.httpStatus === 400,
        );
      });
    } else {
      it(`${rel} parses`, () => {
        const doc = parseRspec(read(rel));
        const isRspec = !rel.startsWith('generated/') || rel.endsWith('.rspec.xml');
        // The XML-RPC bodies are well-formed documents with an unknown root: parsed as an rspec with no content.
        assert.equal(doc.query !== undefined || doc.response !== undefined, isRspec);
      });
    }
  }
});

describe('generated/*.rspec.xml: parse → serialise is byte-exact', () => {
  for (const rel of FILES.filter((f) => f.startsWith('generated/') && f.endsWith('.rspec.xml'))) {
    it(rel, () => {
      const xml = read(rel);
      const dialect = dialectOf(xml);
      const out = serialiseRspec(parseRspec(xml), { dialect });
      if (EMPTY_DESCRIPTION_DROPPED.has(rel)) {
        // The original drops the empty description too (§6.1 rule 6); everything else is identical.
        const emptyLine = '                <description></description>\n';
        assert.ok(xml.includes(emptyLine));
        assert.notEqual(out, xml);
        assert.equal(out, xml.replace(emptyLine, ''));
      } else {
        assert.equal(out, xml);
      }
      assert.deepEqual(parseRspec(out), parseRspec(xml));
    });
  }

  for (const { from, to, type } of FORWARDED) {
    it(`${from.slice(10, 12)} → ${to.slice(10, 12)}: the manager's forwarded copy (type from the DB, no namespace)`, () => {
      const doc = parseRspec(read(from));
      const actions = doc.response?.provisioning?.actions ?? doc.response?.monitoring?.actions ?? [];
      assert.equal(actions.length, 1);
      if (type !== undefined) {
        assert.equal(actions[0]!.type, undefined); // the agent sends no @type (§6.6)
        actions[0]!.type = type;
      }
      assert.equal(serialiseRspec(doc, { dialect: 'manager' }), read(to));
    });
  }
});

describe('XML-RPC bodies carry exactly the sibling rspec', () => {
  const carriers = FILES.filter((f) => f.startsWith('generated/') && !f.endsWith('.rspec.xml'));
  const withRspec: string[] = [];
  for (const rel of carriers) {
    const docs = xmlRpcStrings(read(rel)).filter((s) => s.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'));
    if (docs.length === 0) continue;
    withRspec.push(rel);
    it(`${rel} embeds its .rspec.xml sibling`, () => {
      assert.equal(docs.length, 1);
      const stem = rel.replace(/\.method(?:Call|Response)\.xml$/, '.rspec.xml');
      const prefix = rel.slice(0, 'generated/NN-'.length);
      const candidates = FILES.includes(stem) ? [stem] : FILES.filter((f) => f.startsWith(prefix) && f.endsWith('.rspec.xml'));
      assert.equal(candidates.length, 1, `no unique .rspec.xml sibling for ${rel}: ${candidates.join(', ')}`);
      assert.equal(docs[0], read(candidates[0]!));
    });
  }
  it('finds the embedded rspec in 01, 02, 03, 11 (methodCall) and 16 (methodResponse)', () => {
    assert.deepEqual(
      withRspec.map((f) => f.slice('generated/'.length)),
      [
        '01-plugin-to-manager.send.create.methodCall.xml',
        '02-manager-to-agent.send.create.methodCall.xml',
        '03-agent-to-manager.sendAsync.provisioning.ONGOING.methodCall.xml',
        '11-manager-to-agent.send.listActiveVMs.methodCall.xml',
        '16-manager-to-plugin.listResources.methodResponse.xml',
      ],
    );
  });
});

/** Concrete expectations for the hand-written originals (§10). */
const HAND_WRITTEN: Record<string, (doc: Rspec) => void> = {
  'agent-communications-tests/mon.xml': (doc) =>
    assert.deepEqual(doc, {
      query: {
        monitoring: {
          actions: [
            {
              type: 'listActiveVMs',
              id: 'ee15696c-91a4-44d9-93d0-6dcdf045c10d',
              server: { virtualizationType: 'xen', virtualMachines: [] },
            },
          ],
        },
      },
    }),
  'agent-communications-tests/prov.xml': (doc) =>
    assert.deepEqual(doc, { query: { provisioning: { actions: [{ type: 'create', id: 'ee15696c-91a4-44d9-93d0-6dcdf045c10d' }] } } }),
  'agent-communications-tests/prova.xml': (doc) =>
    assert.deepEqual(doc, { query: { provisioning: { actions: [{ type: 'hardStop', id: '4cac0113-4658-426d-bf26-42d97284f03a' }] } } }),
  'agent-communications-tests/prova2.xml': (doc) => {
    const action = doc.query!.provisioning!.actions[0]!;
    assert.equal(action.id, 'testcreate');
    const vm = action.server!.virtualMachines[0]!;
    assert.equal(vm.serverId, 'Foix');
    assert.equal(vm.virtualizationType, 'xen');
    assert.deepEqual(vm.xenConfiguration, {
      hdSetupType: 'file-image',
      hdSizeMb: 8200,
      hdOriginPath: 'default/default.tar.gz',
      virtualizationSetupType: 'paravirtualization',
      memoryMb: 512,
      interfaces: [
        {
          ismgmt: true,
          name: 'NONE',
          mac: 'NONE',
          ip: '192.168.0.1',
          mask: '255.255.255.0',
          gw: '192.168.0.100',
          dns1: '195.235.113.3',
          dns2: '80.58.0.33',
        },
      ],
    });
  },
  'agent-utils-xml/emptyMonitoringResponse.xml': (doc) => assert.deepEqual(doc, { response: { monitoring: { actions: [{ id: '' }] } } }),
  'agent-utils-xml/emptyMonitoringVMsInfoResponse.xml': (doc) =>
    assert.deepEqual(doc, { response: { monitoring: { actions: [{ id: '' }] } } }),
  'agent-utils-xml/emptyProvisioningResponse.xml': (doc) =>
    assert.deepEqual(doc, {
      response: { provisioning: { actions: [{ id: '', server: { virtualMachines: [{ uuid: 'notRequired' }] } }] } },
    }),
  'agent-utils-xml/query.xml': (doc) =>
    assert.deepEqual(doc, { query: { provisioning: { actions: [{ type: 'create', id: 'this is an id' }] } } }),
  'agent-utils-xml/response.xml': (doc) => {
    const servers = doc.response!.information!.resources!;
    assert.equal(servers.length, 1);
    assert.equal(servers[0]!.name, 'Foix');
    assert.equal(servers[0]!.id, 'foixId');
    assert.equal(servers[0]!.interfaces, undefined);
    assert.equal(servers[0]!.virtualMachines.length, 2);
    for (const vm of servers[0]!.virtualMachines) {
      assert.equal(vm.xenConfiguration!.memoryMb, 512);
      assert.deepEqual(vm.xenConfiguration!.interfaces![1], { name: 'eth1', mac: '00:16:3E:2D:AE:29' });
    }
  },
  'manager-kvm-utils-xml/emptyResponse.xml': (doc) =>
    assert.deepEqual(doc, {
      response: {
        provisioning: {
          actions: [
            {
              type: 'create',
              id: 'testid',
              status: 'FAILED',
              description: 'NONE',
              server: { uuid: 'testuuid', virtualMachines: [{ uuid: 'NONE' }] },
            },
          ],
        },
      },
    }),
  'manager-kvm-utils-xml/list.xml': (doc) => assert.deepEqual(doc, parseRspec(read('agent-utils-xml/response.xml'))),
  'manager-kvm-utils-xml/listActiveVMsQuery.xml': (doc) =>
    assert.deepEqual(doc.query!.monitoring!.actions, [
      { type: 'listActiveVMs', id: 'changeme', server: { virtualizationType: 'changeMe', virtualMachines: [] } },
    ]),
  'manager-kvm-utils-xml/queryProvisioning.xml': (doc) => {
    const server = doc.query!.provisioning!.actions[0]!.server!;
    assert.equal(server.virtualizationType, 'NONE');
    assert.equal(server.virtualMachines[0]!.virtualizationType, 'NONE');
    assert.deepEqual(server.virtualMachines[0]!.xenConfiguration, { hdSetupType: 'file-image' });
  },
  'manager-ocf-utils-xml/queryProvisioning.xml': (doc) => {
    const server = doc.query!.provisioning!.actions[0]!.server!;
    assert.equal(server.virtualizationType, 'xen');
    assert.equal(server.virtualMachines[0]!.virtualizationType, 'xen');
  },
  'manager-kvm-utils-xml/simpleActionQuery.xml': (doc) => {
    const x = doc.query!.provisioning!.actions[0]!.server!.virtualMachines[0]!.xenConfiguration!;
    assert.equal(x.hdSizeMb, 8200);
    assert.equal(x.memoryMb, 1);
    assert.equal(x.configurator, 'NONE');
    assert.equal(x.interfaces![0]!.switchId, 'NONE');
  },
  'manager-kvm-utils-xml/simpleListResources.xml': (doc) => {
    const server = doc.response!.information!.resources![0]!;
    assert.deepEqual(server.interfaces, [{ name: 'NONE', switchId: 'NONE', switchPort: 'NONE' }]);
    assert.equal(server.virtualMachines[0]!.status, 'ONQUEUE');
  },
  'manager-tests/createVM.xml': (doc) =>
    assert.deepEqual(doc, {
      query: { provisioning: { actions: [{ type: 'create', id: 'f6a1f8c9-c054-4eff-a49d-227d0d87b8388888888' }] } },
    }),
  'manager-tests/failresponse.xml': (doc) =>
    assert.deepEqual(doc, {
      response: { provisioning: { actions: [{ id: 'f6a1f8c9-c054-4eff-a49d-227d0d87b8388888888', status: 'FAILED' }] } },
    }),
  'manager-tests/pruebaCreate.xml': (doc) => {
    const vm = doc.query!.provisioning!.actions[0]!.server!.virtualMachines[0]!;
    assert.equal(vm.name, 'a');
    assert.equal(vm.projectName, 'Create-Net internal');
    assert.equal(vm.sliceName, 'Slice Test VeRTIGO');
    assert.equal(vm.xenConfiguration!.memoryMb, 128);
    assert.equal(vm.xenConfiguration!.interfaces![0]!.name, 'NONE');
  },
};

describe('hand-written fixtures: concrete values, and parse → serialise → parse is the identity', () => {
  const handWritten = FILES.filter((f) => !f.startsWith('generated/') && f !== 'manager-tests/xmltest.xml');
  it('has expectations for every hand-written fixture', () => {
    assert.deepEqual(handWritten, Object.keys(HAND_WRITTEN).sort());
  });
  for (const rel of handWritten) {
    it(rel, () => {
      const doc = parseRspec(read(rel));
      HAND_WRITTEN[rel]!(doc);
      for (const dialect of ['manager', 'agent'] as const) {
        const once = serialiseRspec(doc, { dialect });
        assert.deepEqual(parseRspec(once), doc);
        assert.equal(serialiseRspec(parseRspec(once), { dialect }), once); // the canonical form is stable
      }
    });
  }
});

describe('builders reproduce the golden messages byte for byte', () => {
  it('provisioningStatusResponse ONGOING / SUCCESS / FAILED = 03 / 05 / 07 (agent dialect)', () => {
    const agent = { dialect: 'agent' } as const;
    assert.equal(serialiseRspec(provisioningStatusResponse({ actionId: ACTION_ID, status: 'ONGOING' }), agent), read(G.ongoing03));
    assert.equal(serialiseRspec(provisioningStatusResponse({ actionId: ACTION_ID, status: 'SUCCESS' }), agent), read(G.success05));
    assert.equal(
      serialiseRspec(
        provisioningStatusResponse({ actionId: ACTION_ID, status: 'FAILED', description: 'Could not start VM, abort' }),
        agent,
      ),
      read(G.failed07),
    );
  });

  it('provisioningStatusResponse with a type and a description = 08 (manager dialect)', () => {
    const doc = provisioningStatusResponse({
      actionId: ACTION_ID,
      type: 'create',
      status: 'FAILED',
      description: 'Could not start VM, abort',
    });
    assert.equal(serialiseRspec(doc, { dialect: 'manager' }), read(G.failed08));
  });

  it('policyRejectionResponse = 09, and cuts the description to 199 characters', () => {
    const doc = policyRejectionResponse({
      actionId: 'b2c3d4e5-1111-4111-8111-00000000beef',
      serverUuid: SERVER_UUID,
      description: 'Policy rule denied: memory > 2048',
    });
    assert.equal(serialiseRspec(doc, { dialect: 'manager' }), read(G.policy09));
    const long = policyRejectionResponse({ actionId: 'x', description: 'y'.repeat(300) });
    assert.equal(long.response!.provisioning!.actions[0]!.description, 'y'.repeat(199));
    assert.deepEqual(long.response!.provisioning!.actions[0]!.server, { virtualMachines: [{ uuid: 'NONE' }] });
  });

  it('listActiveVmsQuery = 11 (manager dialect)', () => {
    const doc = listActiveVmsQuery({ actionId: MON_ID, virtualizationType: 'kvm' });
    assert.equal(serialiseRspec(doc, { dialect: 'manager' }), read(G.listQuery11));
  });

  it('monitoringResponse ONGOING / SUCCESS = 12 / 13 (agent dialect)', () => {
    assert.equal(serialiseRspec(monitoringResponse({ status: 'ONGOING', actionId: MON_ID }), { dialect: 'agent' }), read(G.monOngoing12));
    const success = monitoringResponse({
      status: 'SUCCESS',
      actionId: MON_ID,
      vms: [
        { name: 'web01', uuid: VM_UUID },
        { name: 'db01', uuid: '0badcafe-0000-4000-8000-000000000042' },
      ],
    });
    assert.equal(serialiseRspec(success, { dialect: 'agent' }), read(G.monSuccess13));
  });

  it('libvirtEventResponse = 14 (agent) and 15 (manager)', () => {
    const doc = libvirtEventResponse({ name: 'web01', uuid: VM_UUID, status: 'Started' });
    assert.equal(serialiseRspec(doc, { dialect: 'agent' }), read(G.event14));
    assert.equal(serialiseRspec(doc, { dialect: 'manager' }), read(G.event15));
  });

  it('informationResponse = 16 for the §8.10 server, and 17 (<resources/>) for no server', () => {
    const iface = (ismgmt: boolean, n: number, switchId: string) => ({
      ismgmt,
      name: `eth${n}`,
      mac: `02:00:0a:00:00:1${n}`,
      ip: ismgmt ? '10.0.0.16' : 'NONE',
      mask: ismgmt ? '255.255.255.0' : 'NONE',
      gw: ismgmt ? '10.0.0.1' : 'NONE',
      dns1: ismgmt ? '10.0.0.2' : 'NONE',
      dns2: ismgmt ? '8.8.8.8' : 'NONE',
      switchId,
    });
    // Properties deliberately in a scrambled order: the output order is the schema's (§6.1 rule 2).
    const server: ServerInformation = {
      virtualMachines: [
        {
          xenConfiguration: {
            interfaces: [iface(true, 0, 'br-mgmt'), iface(false, 1, '00:00:00:00:00:00:00:01')],
            memoryMb: 1024,
            virtualizationSetupType: 'hvm',
            hdOriginPath: 'debian7/debian7.img',
            hdSetupType: 'file-image',
          },
          virtualizationType: 'kvm',
          serverId: SERVER_UUID,
          operatingSystemDistribution: 'Debian',
          operatingSystemVersion: '7.0',
          operatingSystemType: 'GNU/Linux',
          sliceName: 'demo-slice',
          sliceId: '66666666-7777-4888-9999-000000000000',
          projectName: 'demo-project',
          projectId: '11111111-2222-4333-8444-555555555555',
          status: 'running',
          uuid: VM_UUID,
          name: 'web01',
        },
      ],
      interfaces: [
        { switchPort: '1', switchId: 'br-mgmt', name: 'br-mgmt', ismgmt: true },
        { switchPort: '3', switchId: '00:00:00:00:00:00:00:01', name: 'br-data', ismgmt: false },
      ],
      virtualizationType: 'kvm',
      operatingSystemDistribution: 'Ubuntu',
      operatingSystemVersion: '14.04',
      operatingSystemType: 'GNU/Linux',
      uuid: SERVER_UUID,
      id: '1',
      name: 'kvm-host-1',
    };
    assert.equal(serialiseRspec(informationResponse([server]), { dialect: 'manager' }), read(G.info16));
    assert.equal(serialiseRspec(informationResponse([]), { dialect: 'manager' }), read(G.infoEmpty17));
  });

  it('monitoringResponse FAILED: status and error text, no server (§6.8)', () => {
    const doc = monitoringResponse({ status: 'FAILED', actionId: MON_ID, description: 'Virtualization type not supported by the agent' });
    assert.equal(
      serialiseRspec(doc, { dialect: 'agent' }),
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<rspec xmlns="http://www.fp7-ofelia.eu/CF/vt_am/rspec">\n' +
        '    <response>\n' +
        '        <monitoring>\n' +
        `            <action type="listActiveVMs" id="${MON_ID}">\n` +
        '                <status>FAILED</status>\n' +
        '                <description>Virtualization type not supported by the agent</description>\n' +
        '            </action>\n' +
        '        </monitoring>\n' +
        '    </response>\n' +
        '</rspec>\n',
    );
  });

  it('monitoringResponse SUCCESS with no running VM: <server/>, which parses back to an empty VM list', () => {
    const xml = serialiseRspec(monitoringResponse({ status: 'SUCCESS', actionId: MON_ID, vms: [] }), { dialect: 'agent' });
    assert.ok(xml.includes('\n                <server/>\n                <status>SUCCESS</status>\n'));
    assert.deepEqual(parseRspec(xml).response!.monitoring!.actions[0]!.server, { virtualMachines: [] });
  });
});
