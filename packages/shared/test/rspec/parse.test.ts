/**
 * parseRspec: tolerance rules (docs/ocf-protocol.md §6.1 rule 10, §6.2, §9 items 1–5), typed-field strictness
 * (§6.1 rules 7–8), well-formedness and the security limits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../../dist/errors.js';
import type { Rspec } from '../../dist/rspec/model.js';
import { DEFAULT_RSPEC_PARSE_LIMITS, parseRspec } from '../../dist/rspec/parse.js';

const NS = 'http://www.fp7-ofelia.eu/CF/vt_am/rspec';

/** A create-like query around `xenBody` (the content of `<xen-configuration>`). */
const withXen = (xenBody: string): string =>
  `<rspec><query><provisioning><action type="create" id="a"><server><virtual-machines><name>vm</name>` +
  `<xen-configuration>${xenBody}</xen-configuration></virtual-machines></server></action></provisioning></query></rspec>`;
const xenOf = (doc: Rspec) => doc.query!.provisioning!.actions[0]!.server!.virtualMachines[0]!.xenConfiguration!;

/** Asserts an InputError whose message matches `re`. */
function rejects(xml: string, re: RegExp, limits?: Parameters<typeof parseRspec>[1]): void {
  assert.throws(
    () => parseRspec(xml, limits),
    (e: unknown) => {
      assert.ok(e instanceof InputError, `expected InputError, got ${String(e)}`);
      assert.match(e.message, re);
      return true;
    },
  );
}

describe('parseRspec: namespaces and names (§6.1 rule 10, §9 items 1, 3)', () => {
  const expected: Rspec = {
    response: { provisioning: { actions: [{ id: 'x', status: 'SUCCESS', server: { virtualMachines: [{ uuid: 'u' }] } }] } },
  };
  const body = (p: string) =>
    `<${p}response><${p}provisioning><${p}action id="x"><${p}status>SUCCESS</${p}status>` +
    `<${p}server><${p}virtual-machines><${p}uuid>u</${p}uuid></${p}virtual-machines></${p}server>` +
    `</${p}action></${p}provisioning></${p}response>`;

  it('accepts no namespace, a default namespace and a prefixed namespace alike', () => {
    assert.deepEqual(parseRspec(`<rspec>${body('')}</rspec>`), expected);
    assert.deepEqual(parseRspec(`<rspec xmlns="${NS}">${body('')}</rspec>`), expected);
    assert.deepEqual(parseRspec(`<v:rspec xmlns:v="${NS}">${body('v:')}</v:rspec>`), expected);
    assert.deepEqual(parseRspec(`<rspec xmlns:o="urn:other">${body('o:')}</rspec>`), expected);
  });

  it('rejects an undeclared prefix as not well-formed', () => {
    rejects(`<v:rspec>${body('v:')}</v:rspec>`, /^not well-formed XML: unbound namespace prefix v at line 1, column 2$/);
  });

  it('parses an unknown root element as if it were <rspec>', () => {
    assert.deepEqual(parseRspec(`<whatever>${body('')}</whatever>`), expected);
    assert.deepEqual(parseRspec('<methodCall><params/></methodCall>'), {});
  });

  it('is case-sensitive: <Query>, <STATUS> and Type= are unknown and ignored', () => {
    assert.deepEqual(parseRspec('<rspec><Query><provisioning/></Query></rspec>'), {});
    assert.deepEqual(
      parseRspec('<rspec><response><monitoring><action Type="listActiveVMs" id="i"><STATUS>x</STATUS></action></monitoring></response></rspec>'),
      { response: { monitoring: { actions: [{ id: 'i' }] } } },
    );
  });

  it('ignores unknown elements and attributes, wherever they are', () => {
    const doc = parseRspec(
      '<rspec foo="1"><bogus><query/></bogus><query><provisioning extra="y"><note>hi</note>' +
        '<action type="start" id="i" priority="9"><server><colour>red</colour><uuid>s</uuid></server><x/></action>' +
        '</provisioning></query></rspec>',
    );
    assert.deepEqual(doc, { query: { provisioning: { actions: [{ type: 'start', id: 'i', server: { uuid: 's', virtualMachines: [] } }] } } });
  });

  it('does not treat element names as object keys (no prototype lookups)', () => {
    const doc = parseRspec('<rspec><query><provisioning><action><server><constructor>x</constructor><__proto__>y</__proto__><toString/></server></action></provisioning></query></rspec>');
    assert.deepEqual(doc.query!.provisioning!.actions[0]!.server, { virtualMachines: [] });
  });
});

describe('parseRspec: text, emptiness and repetition (§6.1 rules 6, 10)', () => {
  it('keeps text verbatim, without trimming', () => {
    const doc = parseRspec('<rspec><response><provisioning><action><description>  two\n\tlines </description></action></provisioning></response></rspec>');
    assert.equal(doc.response!.provisioning!.actions[0]!.description, '  two\n\tlines ');
  });

  it('normalises CRLF line ends in text to LF (XML 1.0 §2.11)', () => {
    const doc = parseRspec('<rspec><query><information>a\r\nb\rc</information></query></rspec>');
    assert.equal(doc.query!.information, 'a\nb\nc');
  });

  it('parses empty leaves (<x></x> and <x/>) as undefined', () => {
    const doc = parseRspec('<rspec><response><provisioning><action><status></status><description/></action></provisioning></response></rspec>');
    const action = doc.response!.provisioning!.actions[0]!;
    assert.deepEqual(action, {});
    assert.equal('status' in action, false);
  });

  it('keeps whitespace-only text (it is not empty)', () => {
    const doc = parseRspec('<rspec><response><provisioning><action><description> </description></action></provisioning></response></rspec>');
    assert.equal(doc.response!.provisioning!.actions[0]!.description, ' ');
  });

  it('lets the last occurrence of a singular child win, even an empty one', () => {
    const one = parseRspec('<rspec><response><provisioning><action><status>A</status><status>B</status></action></provisioning></response></rspec>');
    assert.equal(one.response!.provisioning!.actions[0]!.status, 'B');
    const two = parseRspec('<rspec><response><provisioning><action><status>A</status><status/></action></provisioning></response></rspec>');
    assert.equal(two.response!.provisioning!.actions[0]!.status, undefined);
    const three = parseRspec('<rspec><query><information>1</information></query><query><information>2</information></query></rspec>');
    assert.deepEqual(three, { query: { information: '2' } });
    const four = parseRspec(withXen('<memory-mb>1</memory-mb><interfaces><interface/></interfaces><memory-mb>2</memory-mb><interfaces/>'));
    assert.deepEqual(xenOf(four), { memoryMb: 2, interfaces: [] });
  });

  it('appends repeated elements in document order', () => {
    const doc = parseRspec(
      '<rspec><response><monitoring><action id="1"/><action id="2"><server><virtual-machines><name>a</name></virtual-machines>' +
        '<virtual-machines><name>b</name></virtual-machines></server></action></monitoring></response></rspec>',
    );
    const actions = doc.response!.monitoring!.actions;
    assert.deepEqual(actions.map((a) => a.id), ['1', '2']);
    assert.deepEqual(actions[1]!.server!.virtualMachines.map((v) => v.name), ['a', 'b']);
  });

  it('drops comments, concatenating the text around them (cElementTree)', () => {
    const doc = parseRspec('<!-- head --><rspec><query><!-- c --><information>we<!-- x -->b01</information></query></rspec><!-- tail -->');
    assert.equal(doc.query!.information, 'web01');
  });

  it('reads CDATA as text', () => {
    const doc = parseRspec('<rspec><query><information><![CDATA[a < b & c]]></information></query></rspec>');
    assert.equal(doc.query!.information, 'a < b & c');
  });

  it('takes a leaf text only before its first child element (ElementTree .text)', () => {
    const doc = parseRspec('<rspec><query><information>left<b>inner</b>tail</information></query></rspec>');
    assert.equal(doc.query!.information, 'left');
  });

  it('decodes the five predefined entities and numeric character references', () => {
    const doc = parseRspec('<rspec><query><information>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#xe9;</information></query></rspec>');
    assert.equal(doc.query!.information, `<>&"'ABé`);
  });

  it('decodes and normalises attribute values (whitespace characters become spaces)', () => {
    const doc = parseRspec(`<rspec><query><provisioning><action type ='cre&amp;ate' id="a\tb&#10;c"/></provisioning></query></rspec>`);
    assert.deepEqual(doc.query!.provisioning!.actions[0], { type: 'cre&ate', id: 'a b\nc' });
  });

  it('keeps an empty attribute value as "" (the agent templates have id="")', () => {
    const doc = parseRspec('<rspec><response><monitoring><action id=""/></monitoring></response></rspec>');
    assert.deepEqual(doc.response!.monitoring!.actions[0], { id: '' });
  });

  it('parses non-ASCII text (only serialising it is refused, §6.1 rule 9)', () => {
    const doc = parseRspec('<?xml version="1.0" encoding="UTF-8"?><rspec><query><information>café 😀</information></query></rspec>');
    assert.equal(doc.query!.information, 'café 😀');
  });
});

describe('parseRspec: structure (§6.2, §10)', () => {
  it('reads <virtual-machines> in actions and <virtual-machine> in information, ignoring the other spelling', () => {
    const doc = parseRspec(
      '<rspec><query><provisioning><action><server><virtual-machine><name>wrong</name></virtual-machine>' +
        '<virtual-machines><name>right</name></virtual-machines></server></action></provisioning></query>' +
        '<response><information><resources><server><virtual-machines><name>wrong</name></virtual-machines>' +
        '<virtual-machine><name>right</name></virtual-machine></server></resources></information></response></rspec>',
    );
    assert.deepEqual(doc.query!.provisioning!.actions[0]!.server!.virtualMachines, [{ name: 'right' }]);
    assert.deepEqual(doc.response!.information!.resources![0]!.virtualMachines, [{ name: 'right' }]);
  });

  it('leaves action.server undefined for the legacy layout (<virtual-machine> directly under <action>)', () => {
    const doc = parseRspec('<rspec><query><provisioning><action type="create" id="l"><virtual-machine><name>v</name></virtual-machine></action></provisioning></query></rspec>');
    assert.deepEqual(doc.query!.provisioning!.actions[0], { type: 'create', id: 'l' });
  });

  it('distinguishes absent and present-but-empty containers', () => {
    const doc = parseRspec(
      '<rspec><response><information><resources/></information></response></rspec>',
    );
    assert.deepEqual(doc, { response: { information: { resources: [] } } });
    assert.deepEqual(parseRspec('<rspec><response><information/></response></rspec>'), { response: { information: {} } });
    assert.deepEqual(xenOf(parseRspec(withXen('<interfaces/><users></users>'))), { interfaces: [], users: [] });
    assert.deepEqual(xenOf(parseRspec(withXen(''))), {});
  });

  it('records server/status (an empty complex type) as "" when present, whatever it holds', () => {
    const doc = parseRspec('<rspec><query><monitoring><action><server><status>busy</status></server></action></monitoring></query></rspec>');
    assert.deepEqual(doc.query!.monitoring!.actions[0]!.server, { status: '', virtualMachines: [] });
  });

  it('reads users, interfaces and every interface field', () => {
    const doc = parseRspec(
      withXen(
        '<users><user><name>root</name><password>pw</password></user><user><name>x</name></user></users>' +
          '<interfaces><interface ismgmt="false"><switch-port>7</switch-port><switch-id>br0</switch-id><dns2>d2</dns2><dns1>d1</dns1>' +
          '<gw>g</gw><mask>m</mask><ip>i</ip><mac>mac</mac><name>eth0</name></interface></interfaces>',
      ),
    );
    assert.deepEqual(xenOf(doc), {
      users: [{ name: 'root', password: 'pw' }, { name: 'x' }],
      interfaces: [
        { ismgmt: false, name: 'eth0', mac: 'mac', ip: 'i', mask: 'm', gw: 'g', dns1: 'd1', dns2: 'd2', switchId: 'br0', switchPort: '7' },
      ],
    });
  });
});

describe('parseRspec: integers and booleans reject the whole document (§6.1 rules 7–8, §9 item 5)', () => {
  for (const [text, value] of [
    ['512', 512],
    [' 12 ', 12],
    ['\n\t+12\r\n', 12],
    ['-3', -3],
    ['007', 7],
    ['-0', 0],
    ['9007199254740991', 9007199254740991],
  ] as const) {
    it(`accepts memory-mb ${JSON.stringify(text)} as ${value}`, () => {
      const mb = xenOf(parseRspec(withXen(`<memory-mb>${text}</memory-mb>`))).memoryMb;
      assert.ok(Object.is(mb, value), `got ${String(mb)}`);
    });
  }

  for (const text of ['12a', '1.5', '', ' ', '1e3', '0x10', '- 1', '+-1', '1 2', '１２', '12L', '1_000']) {
    it(`rejects memory-mb ${JSON.stringify(text)}, naming the field`, () => {
      rejects(withXen(`<hd-size-mb>10</hd-size-mb><memory-mb>${text}</memory-mb>`), /^invalid rspec: memory-mb must be an integer, got .+ \(line 1\)$/);
    });
  }

  it('rejects hd-size-mb "1.5" and an empty <memory-mb/>, naming the field', () => {
    rejects(withXen('<hd-size-mb>1.5</hd-size-mb>'), /^invalid rspec: hd-size-mb must be an integer, got "1\.5"/);
    rejects(withXen('<memory-mb/>'), /^invalid rspec: memory-mb must be an integer, got an empty element/);
  });

  it('rejects integers that a JS number cannot hold exactly', () => {
    rejects(withXen('<memory-mb>9007199254740993</memory-mb>'), /^invalid rspec: memory-mb is out of range/);
  });

  it('reports the line of the offending element', () => {
    rejects(`<rspec>\n<query>\n<provisioning><action><server><virtual-machines><xen-configuration>\n<memory-mb>x</memory-mb></xen-configuration></virtual-machines></server></action></provisioning></query></rspec>`, /\(line 4\)$/);
  });

  const iface = (v: string) => withXen(`<interfaces><interface ismgmt="${v}"><name>e</name></interface></interfaces>`);
  for (const [text, value] of [['true', true], ['1', true], ['false', false], ['0', false]] as const) {
    it(`accepts ismgmt="${text}" as ${value}`, () => {
      assert.equal(xenOf(parseRspec(iface(text))).interfaces![0]!.ismgmt, value);
    });
  }
  for (const text of ['True', 'FALSE', 'yes', '', ' true', 'true ', '2']) {
    it(`rejects ismgmt=${JSON.stringify(text)}, naming the field`, () => {
      rejects(iface(text), /^invalid rspec: interface@ismgmt must be true, false, 1 or 0, got .* \(line 1\)$/);
    });
  }

  it('rejects a bad value even in an interface the daemons would never read (server interfaces)', () => {
    rejects(
      '<rspec><response><information><resources><server><interfaces><interface ismgmt="True"/></interfaces></server></resources></information></response></rspec>',
      /ismgmt/,
    );
  });
});

describe('parseRspec: not well-formed input is an InputError with a position', () => {
  const cases: [string, string][] = [
    ['mismatched end tag', '<rspec><query></rspec></query>'],
    ['two root elements', '<rspec/><rspec/>'],
    ['text after the root', '<rspec/>junk'],
    ['text before the root', 'junk<rspec/>'],
    ['unclosed element', '<rspec><query>'],
    ['empty document', ''],
    ['whitespace only', '  \n'],
    ['unquoted attribute', '<rspec a=1/>'],
    ['attribute without value', '<rspec http://x/>'],
    ['duplicate attribute', '<rspec a="1" a="2"/>'],
    ['no space between attributes', '<rspec a="1"b="2"/>'],
    ['< in an attribute value', '<rspec a="<"/>'],
    ['raw ampersand', '<rspec>a & b</rspec>'],
    ['unknown entity', '<rspec>&nbsp;</rspec>'],
    ['bad character reference', '<rspec>&#0;</rspec>'],
    ['character reference to a surrogate', '<rspec>&#xD800;</rspec>'],
    [']]> in text', '<rspec>a]]>b</rspec>'],
    ['-- inside a comment', '<rspec><!-- a -- b --></rspec>'],
    ['unterminated comment', '<rspec><!-- a </rspec>'],
    ['XML declaration not at the start', ' <?xml version="1.0"?><rspec/>'],
    ['malformed XML declaration', '<?xml encoding="UTF-8"?><rspec/>'],
    ['control character', '<rspec>\u0001</rspec>'],
    ['lone surrogate', '<rspec>\uD800</rspec>'],
    ['end tag without start', '</rspec>'],
    ['CDATA outside the root', '<![CDATA[x]]><rspec/>'],
    ['bad element name', '<1rspec/>'],
    ['malformed qualified name', '<a:b:c xmlns:a="u"/>'],
  ];
  for (const [what, xml] of cases) {
    it(`rejects: ${what}`, () => rejects(xml, /^not well-formed XML: .+ at line \d+, column \d+$/));
  }

  it('reports line and column', () => {
    rejects('<rspec>\n  <query>\n  </rspec>', /^not well-formed XML: end tag <\/rspec> does not match start tag <query> \(line 2\) at line 3, column 3$/);
  });

  it('points at a bare & even when the reference it seems to start would run across markup', () => {
    rejects(
      '<rspec>\n<query>x &amp y</query>\n<a>z;</a></rspec>',
      /^not well-formed XML: '&' must start an entity or character reference \(escape it as &amp;\) at line 2, column 10$/,
    );
    rejects('<rspec>a & b</rspec>', /^not well-formed XML: '&' must start an entity .* at line 1, column 10$/);
  });

  it('names the construct left open at the end of the input', () => {
    rejects('<rspec><query', /^not well-formed XML: unterminated start tag <query> at line 1, column 8$/);
    rejects('<rspec>\n<!-- x', /^not well-formed XML: unterminated comment at line 2, column 1$/);
  });

  it('does not look entity names up on Object.prototype', () => {
    rejects('<rspec>&constructor;</rspec>', /^not well-formed XML: undefined entity &constructor; /);
    rejects('<rspec a="&__proto__;"/>', /^not well-formed XML: undefined entity &__proto__; /);
  });

  it('rejects two attributes with the same expanded name (Namespaces in XML §6.3)', () => {
    rejects('<rspec xmlns:a="urn:x" xmlns:b="urn:x" a:id="1" b:id="2"/>', /^not well-formed XML: duplicate attribute/);
  });

  it('reads a document declared as XML 1.1 by the XML 1.0 rules', () => {
    rejects('<?xml version="1.1"?><rspec>&#1;</rspec>', /^not well-formed XML: invalid character reference &#1; /);
  });

  it('accepts what XML allows: BOM, declaration, PIs, comments, spaces around =, single quotes, trailing misc', () => {
    const doc = parseRspec(
      '\uFEFF<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<?app data?><!-- c -->\n' +
        `<rspec ><response ><provisioning><action type ="create" id = 'q"uote'/></provisioning></response ></rspec >\n<!-- end --><?done?>\n`,
    );
    assert.deepEqual(doc, { response: { provisioning: { actions: [{ type: 'create', id: 'q"uote' }] } } });
  });
});

describe('parseRspec: security (XXE, entity expansion, size, depth, element count)', () => {
  it('refuses a DOCTYPE with an external entity (XXE) before reading anything', () => {
    const xxe =
      '<?xml version="1.0"?>\n<!DOCTYPE rspec [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' +
      '<rspec><query><information>&xxe;</information></query></rspec>';
    assert.throws(
      () => parseRspec(xxe),
      (e: unknown) =>
        e instanceof InputError &&
        /^XML document refused: DOCTYPE and ENTITY declarations are not allowed \(found "<!DOCTYPE" at line 2, column 1\)$/.test(e.message) &&
        !e.message.includes('root:'),
    );
  });

  it('refuses the billion-laughs document', () => {
    const lol =
      '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' +
      Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">\n`).join('') +
      ']>\n<rspec><query><information>&lol9;</information></query></rspec>';
    rejects(lol, /^XML document refused: DOCTYPE and ENTITY declarations are not allowed/);
  });

  it('refuses ENTITY declarations and DOCTYPEs in any case, and a parameter entity', () => {
    rejects('<!doctype rspec><rspec/>', /DOCTYPE and ENTITY declarations are not allowed/);
    rejects('<rspec><!ENTITY x "y"></rspec>', /DOCTYPE and ENTITY declarations are not allowed/);
    rejects('<!DOCTYPE rspec SYSTEM "http://attacker.example/x.dtd"><rspec/>', /DOCTYPE/);
  });

  it('does not expand an undeclared entity reference', () => {
    rejects('<rspec><query><information>&xxe;</information></query></rspec>', /^not well-formed XML: undefined entity &xxe;/);
  });

  it('enforces maxDepth (default 32): depth 100 fails, 32 passes, 33 fails', () => {
    const nest = (n: number) => '<a>'.repeat(n) + '</a>'.repeat(n);
    rejects(nest(100), /^XML document refused: elements nested deeper than 32 levels/);
    assert.deepEqual(parseRspec(nest(32)), {});
    rejects(nest(33), /deeper than 32 levels \(line 1, column 97\)/);
    rejects(nest(5), /deeper than 4 levels/, { maxDepth: 4 });
    assert.equal(DEFAULT_RSPEC_PARSE_LIMITS.maxDepth, 32);
  });

  it('enforces maxDepth on a 100 000-deep document quickly (no recursion)', () => {
    const start = Date.now();
    rejects('<a>'.repeat(100_000), /deeper than 32 levels/);
    assert.ok(Date.now() - start < 2000);
  });

  it('enforces maxElements (default 20000)', () => {
    const flat = (n: number) => `<rspec>${'<x/>'.repeat(n - 1)}</rspec>`;
    assert.deepEqual(parseRspec(flat(20000)), {});
    rejects(flat(20001), /^XML document refused: more than 20000 elements$/);
    rejects(flat(6), /more than 5 elements/, { maxElements: 5 });
  });

  it('enforces maxBytes (default 4 MiB), counting UTF-8 bytes', () => {
    const big = `<rspec><!--${' '.repeat(4 * 1024 * 1024)}--></rspec>`;
    rejects(big, /^XML document too large: more than 4194304 bytes$/);
    const small = '<rspec><!-- éééééééééé --></rspec>'; // 34 characters, 44 bytes
    assert.deepEqual(parseRspec(small, { maxBytes: 44 }), {});
    rejects(small, /more than 43 bytes/, { maxBytes: 43 });
  });

  it('rejects nonsensical limits with a RangeError', () => {
    assert.throws(() => parseRspec('<rspec/>', { maxDepth: 0 }), RangeError);
    assert.throws(() => parseRspec('<rspec/>', { maxBytes: 1.5 }), RangeError);
  });
});
