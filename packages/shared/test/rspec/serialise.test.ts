/**
 * serialiseRspec: the generateDS export rules (docs/ocf-protocol.md §6.1 rules 1–9, order §6.2).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../../dist/errors.js';
import type { Action, Interface, Rspec, XenConfiguration } from '../../dist/rspec/model.js';
import { parseRspec } from '../../dist/rspec/parse.js';
import { RSPEC_XML_DECLARATION, serialiseRspec } from '../../dist/rspec/serialise.js';

const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
const manager = { dialect: 'manager' } as const;
const agent = { dialect: 'agent' } as const;

/** Serialises one action inside response/provisioning and returns the lines from `<action` to `</action>`. */
function actionLines(action: Action): string {
  const xml = serialiseRspec({ response: { provisioning: { actions: [action] } } }, manager);
  const lines = xml.split('\n');
  const from = lines.findIndex((l) => l.includes('<action'));
  const to = lines.findIndex((l) => l.includes('</action>') || (l.includes('<action') && l.endsWith('/>')));
  return lines.slice(from, to + 1).join('\n') + '\n';
}

function xenLines(x: XenConfiguration): string {
  return actionLines({ server: { virtualMachines: [{ xenConfiguration: x }] } });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

describe('serialiseRspec: document frame (§6.1 table, rule 1)', () => {
  it('writes the declaration and a bare <rspec> for the manager, a namespaced one for the agent', () => {
    assert.equal(RSPEC_XML_DECLARATION, DECL);
    assert.equal(serialiseRspec({}, manager), `${DECL}<rspec/>\n`);
    assert.equal(serialiseRspec({}, agent), `${DECL}<rspec xmlns="http://www.fp7-ofelia.eu/CF/vt_am/rspec"/>\n`);
    assert.equal(
      serialiseRspec({ query: { information: 'x' } }, agent),
      `${DECL}<rspec xmlns="http://www.fp7-ofelia.eu/CF/vt_am/rspec">\n    <query>\n        <information>x</information>\n    </query>\n</rspec>\n`,
    );
  });

  it('rejects an unknown dialect', () => {
    assert.throws(() => serialiseRspec({}, { dialect: 'plugin' as never }), TypeError);
  });

  it('does not modify its input (works on a deeply frozen document)', () => {
    const doc: Rspec = deepFreeze({
      query: { provisioning: { actions: [{ type: 'create', id: 'i', server: { virtualMachines: [{ name: 'n', xenConfiguration: { memoryMb: 1, interfaces: [{ ismgmt: true }] } }] } }] } },
    });
    const copy = structuredClone(doc);
    serialiseRspec(doc, manager);
    assert.deepEqual(doc, copy);
  });
});

describe('serialiseRspec: order, attributes and escaping (§6.1 rules 2–4)', () => {
  it('emits children in schema order whatever the property order', () => {
    const action: Action = { description: 'd', status: 'SUCCESS', server: { virtualMachines: [], uuid: 'u', name: 'n' }, id: 'i', type: 't' };
    assert.equal(
      actionLines(action),
      '            <action type="t" id="i">\n' +
        '                <server>\n' +
        '                    <name>n</name>\n' +
        '                    <uuid>u</uuid>\n' +
        '                </server>\n' +
        '                <status>SUCCESS</status>\n' +
        '                <description>d</description>\n' +
        '            </action>\n',
    );
    const both: Rspec = { response: { information: { resources: [] } }, query: { information: 'q' } };
    assert.equal(
      serialiseRspec(both, manager),
      `${DECL}<rspec>\n    <query>\n        <information>q</information>\n    </query>\n    <response>\n        <information>\n            <resources/>\n        </information>\n    </response>\n</rspec>\n`,
    );
    const responses: Rspec = {
      response: { information: {}, monitoring: { actions: [] }, provisioning: { actions: [] } },
    };
    assert.equal(
      serialiseRspec(responses, manager),
      `${DECL}<rspec>\n    <response>\n        <provisioning/>\n        <monitoring/>\n        <information/>\n    </response>\n</rspec>\n`,
    );
  });

  it('writes every xen-configuration and interface field in order', () => {
    const iface: Interface = { switchPort: 'p', switchId: 's', dns2: 'd2', dns1: 'd1', gw: 'g', mask: 'm', ip: 'i', mac: 'c', name: 'n', ismgmt: true };
    const x: XenConfiguration = {
      users: [{ password: 'pw', name: 'root' }],
      interfaces: [iface],
      memoryMb: 1024,
      virtualizationSetupType: 'hvm',
      configurator: '',
      hdOriginPath: 'o',
      hdSizeMb: 8200,
      hdSetupType: 'file-image',
    };
    const i = ' '.repeat(24);
    assert.equal(
      /^ *<xen-configuration>\n[\s\S]*<\/xen-configuration>$/m.exec(xenLines(x))?.[0],
      [
        `${i}<xen-configuration>`,
        `${i}    <hd-setup-type>file-image</hd-setup-type>`,
        `${i}    <hd-size-mb>8200</hd-size-mb>`,
        `${i}    <hd-origin-path>o</hd-origin-path>`,
        `${i}    <configurator></configurator>`,
        `${i}    <virtualization-setup-type>hvm</virtualization-setup-type>`,
        `${i}    <memory-mb>1024</memory-mb>`,
        `${i}    <interfaces>`,
        `${i}        <interface ismgmt="true">`,
        `${i}            <name>n</name>`,
        `${i}            <mac>c</mac>`,
        `${i}            <ip>i</ip>`,
        `${i}            <mask>m</mask>`,
        `${i}            <gw>g</gw>`,
        `${i}            <dns1>d1</dns1>`,
        `${i}            <dns2>d2</dns2>`,
        `${i}            <switch-id>s</switch-id>`,
        `${i}            <switch-port>p</switch-port>`,
        `${i}        </interface>`,
        `${i}    </interfaces>`,
        `${i}    <users>`,
        `${i}        <user>`,
        `${i}            <name>root</name>`,
        `${i}            <password>pw</password>`,
        `${i}        </user>`,
        `${i}    </users>`,
        `${i}</xen-configuration>`,
      ].join('\n'),
    );
  });

  it('writes the VM fields in order and server/status as <status/>', () => {
    const xml = actionLines({
      server: {
        status: 'anything',
        virtualMachines: [
          {
            virtualizationType: 'kvm',
            serverId: 'sid',
            operatingSystemDistribution: 'Debian',
            operatingSystemVersion: '7.0',
            operatingSystemType: 'GNU/Linux',
            sliceName: 'sn',
            sliceId: 'si',
            projectName: 'pn',
            projectId: 'pi',
            status: 'on queue',
            uuid: 'u',
            name: 'n',
          },
        ],
        interfaces: [],
        virtualizationType: 'kvm',
        operatingSystemDistribution: 'Ubuntu',
        operatingSystemVersion: '14.04',
        operatingSystemType: 'GNU/Linux',
        uuid: 'su',
        id: '1',
        name: 'h',
      },
    });
    const tags = [...xml.matchAll(/<([a-z-]+)/g)].map((m) => m[1]);
    assert.deepEqual(tags, [
      'action', 'server', 'name', 'id', 'uuid', 'operating-system-type', 'operating-system-version', 'operating-system-distribution',
      'virtualization-type', 'interfaces', 'virtual-machines', 'name', 'uuid', 'status', 'project-id', 'project-name', 'slice-id',
      'slice-name', 'operating-system-type', 'operating-system-version', 'operating-system-distribution', 'server-id',
      'virtualization-type', 'status',
    ]);
    assert.ok(xml.includes('\n                    <interfaces/>\n'));
    assert.ok(xml.includes('\n                    <status/>\n                </server>\n'));
    assert.deepEqual(parseRspec(serialiseRspec({ response: { provisioning: { actions: [{ server: { status: '', virtualMachines: [] } }] } } }, manager)).response!.provisioning!.actions[0]!.server, { status: '', virtualMachines: [] });
  });

  it('writes attributes type then id, quoting as quote_attrib does', () => {
    assert.equal(actionLines({ id: 'i', type: 't' }), '            <action type="t" id="i"/>\n');
    assert.equal(actionLines({ id: 'a"b' }), `            <action id='a"b'/>\n`);
    assert.equal(actionLines({ id: `a"b'c` }), `            <action id="a&quot;b'c"/>\n`);
    assert.equal(actionLines({ id: "it's" }), `            <action id="it's"/>\n`);
    assert.equal(actionLines({ id: '<&>' }), '            <action id="&lt;&amp;&gt;"/>\n');
    assert.equal(actionLines({ id: '' }), '            <action id=""/>\n');
  });

  it('escapes &, < and > in text, and nothing else', () => {
    assert.equal(
      actionLines({ description: `a & b < c > d "e" 'f'` }),
      `            <action>\n                <description>a &amp; b &lt; c &gt; d "e" 'f'</description>\n            </action>\n`,
    );
  });

  it('round-trips awkward attribute and text values through the parser', () => {
    const action: Action = { type: `x"y'z`, id: '<&>"', description: ' &amp; <tag> ]]> ' };
    const doc: Rspec = { response: { provisioning: { actions: [action] } } };
    assert.deepEqual(parseRspec(serialiseRspec(doc, agent)), doc);
  });
});

describe('serialiseRspec: absent, empty and typed values (§6.1 rules 5–8)', () => {
  it("omits undefined, writes '' as <x></x>", () => {
    assert.equal(
      actionLines({ status: '', description: undefined }),
      '            <action>\n                <status></status>\n            </action>\n',
    );
  });

  it('self-closes complex elements without content', () => {
    assert.equal(actionLines({}), '            <action/>\n');
    assert.ok(actionLines({ server: { virtualMachines: [] } }).includes('\n                <server/>\n'));
    assert.ok(xenLines({}).includes('<xen-configuration/>\n'));
    assert.ok(xenLines({ interfaces: [], users: [] }).includes('<interfaces/>\n' + ' '.repeat(28) + '<users/>\n'));
    assert.ok(xenLines({ interfaces: [{ ismgmt: false }, {}] }).includes('<interface ismgmt="false"/>\n' + ' '.repeat(32) + '<interface/>\n'));
    assert.ok(xenLines({ users: [{}] }).includes('<user/>\n'));
  });

  it('writes integers in decimal, including 0 and negatives, and normalises -0', () => {
    assert.ok(xenLines({ memoryMb: 0, hdSizeMb: -5 }).includes('<hd-size-mb>-5</hd-size-mb>\n' + ' '.repeat(28) + '<memory-mb>0</memory-mb>\n'));
    assert.ok(xenLines({ memoryMb: -0 }).includes('<memory-mb>0</memory-mb>'));
  });

  for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
    it(`refuses memory-mb ${String(bad)} with an InputError`, () => {
      assert.throws(() => xenLines({ memoryMb: bad }), (e: unknown) => e instanceof InputError && /memory-mb must be an integer/.test(e.message));
    });
  }

  it('writes ismgmt as "true"/"false" whatever the input spelling was', () => {
    const doc = parseRspec(
      '<rspec><query><provisioning><action><server><interfaces><interface ismgmt="1"/><interface ismgmt="0"/></interfaces></server></action></provisioning></query></rspec>',
    );
    const xml = serialiseRspec(doc, manager);
    assert.ok(xml.includes('<interface ismgmt="true"/>\n') && xml.includes('<interface ismgmt="false"/>\n'));
  });
});

describe('serialiseRspec: ASCII only (§6.1 rule 9, §9 item 6)', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['é in a description', () => actionLines({ description: 'café' }), /description contains the non-ASCII character U\+00E9; the OCF wire format is ASCII-only \(ocf-protocol\.md §6\.1 rule 9\)/],
    ['an emoji in a VM name', () => actionLines({ server: { virtualMachines: [{ name: 'vm😀' }] } }), /name contains the non-ASCII character U\+1F600/],
    ['a non-ASCII action id', () => actionLines({ id: 'ïd' }), /action@id contains the non-ASCII character U\+00EF/],
    ['a non-breaking space in query/information', () => serialiseRspec({ query: { information: 'a\u00a0b' } }, agent), /information contains the non-ASCII character U\+00A0/],
    ['a control character', () => actionLines({ description: 'bell\u0007' }), /description contains the control character U\+0007, which XML 1\.0 does not allow/],
  ];
  for (const [what, run, re] of cases) {
    it(`refuses ${what} with an InputError`, () => {
      assert.throws(run, (e: unknown) => e instanceof InputError && re.test(e.message));
    });
  }

  it('accepts every printable ASCII character, tab and newline', () => {
    let printable = '';
    for (let c = 0x20; c <= 0x7e; c++) printable += String.fromCharCode(c);
    const doc: Rspec = { query: { information: `\t${printable}\n` } };
    assert.deepEqual(parseRspec(serialiseRspec(doc, manager)), doc);
  });
});
