/**
 * The pure parts of GENI credential checking (docs/geni-v3.md §9.1–9.3): the hardened signed-credential reader and
 * the SFA rights table. No xmlsec1, no certificates checked (the PEM text is not parsed here).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GeniCredentialError } from '../../dist/domain/geni/geni-credential-error.js';
import { firstUndelegatedPrivilege, operationsOf, privilegesAllow } from '../../dist/domain/geni/sfa-rights.js';
import { MAX_DELEGATION_DEPTH, parseSignedCredential } from '../../dist/domain/geni/signed-credential.js';
import { credentialXml, type CredentialSpec } from '../../dist/testing/index.js';

const PEM = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const spec = (over: Partial<CredentialSpec> = {}): CredentialSpec => ({
  refId: 'ref0', ownerGidPem: PEM, ownerUrn: 'urn:publicid:IDN+a+user+u', targetGidPem: PEM, targetUrn: 'urn:publicid:IDN+a+slice+s',
  expires: new Date('2030-01-01T00:00:00Z'), privileges: [{ name: 'embed', canDelegate: true }, { name: 'info' }], ...over,
});
/** A template with a certificate body in X509Data, as xmlsec1 would fill it. */
const doc = (s: CredentialSpec = spec()) => credentialXml(s).replaceAll('<X509Certificate/>', '<X509Certificate>AAAA</X509Certificate>');
const refusedWith = (xml: string, re: RegExp) =>
  assert.throws(() => parseSignedCredential(xml), (e: unknown) => e instanceof GeniCredentialError && re.test(e.message), re.source);

describe('parseSignedCredential', () => {
  it('reads the fields, privileges and the signature of each credential', () => {
    const parsed = parseSignedCredential(doc());
    assert.deepEqual(parsed.signatureIds, ['Sig_ref0']);
    const c = parsed.credential;
    assert.equal(c.ownerUrn, 'urn:publicid:IDN+a+user+u');
    assert.equal(c.targetUrn, 'urn:publicid:IDN+a+slice+s');
    assert.equal(c.expires.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.deepEqual(c.privileges, [{ name: 'embed', canDelegate: true }, { name: 'info', canDelegate: false }]);
    assert.equal(c.signature.signatureAlgorithm, 'http://www.w3.org/2000/09/xmldsig#rsa-sha1');
    assert.deepEqual(c.signature.x509Certificates, ['AAAA']);
    assert.equal(c.ownerGid, PEM.trim());
  });

  it('reads <expires> without a zone as UTC and with an offset', () => {
    assert.equal(parseSignedCredential(doc().replace('2030-01-01T00:00:00Z', '2030-01-01T00:00:00')).credential.expires.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.equal(parseSignedCredential(doc().replace('2030-01-01T00:00:00Z', '2030-01-01T02:00:00+02:00')).credential.expires.toISOString(), '2030-01-01T00:00:00.000Z');
    refusedWith(doc().replace('2030-01-01T00:00:00Z', 'tomorrow'), /<expires> is not an RFC 3339 time/);
  });

  it('refuses what is not a well-formed, DTD-free, bounded signed credential', () => {
    refusedWith('', /empty/);
    refusedWith(doc().slice(0, 500), /not well-formed XML/);
    refusedWith(doc().replace('<signed-credential', '<!DOCTYPE x [<!ENTITY a "b">]><signed-credential'), /DOCTYPE or ENTITY/);
    refusedWith(doc().replace('<type>privilege</type>', '<type>&unknown;</type>'), /not well-formed XML/);
    refusedWith(doc().replace(/signed-credential/g, 'credential-list'), /root element is <credential-list>/);
    refusedWith(doc().replace('<type>privilege</type>', `<type>privilege</type>${'<a>'.repeat(70)}${'</a>'.repeat(70)}`), /deeper than 64/);
    refusedWith(doc().replace('<type>privilege</type>', `<type>privilege</type>${'<a/>'.repeat(4001)}`), /more than 4000 elements/);
    refusedWith(doc().replace('<type>privilege</type>', '<type>abac</type>'), /type "abac" is not "privilege"/);
    refusedWith(doc().replace(/<owner_urn>[^<]*<\/owner_urn>/, ''), /has 0 <owner_urn> elements/);
    refusedWith(doc().replace(/<expires>[^<]*<\/expires>/, '<expires>2030-01-01T00:00:00Z</expires><expires>2031-01-01T00:00:00Z</expires>'), /has 2 <expires> elements/);
  });

  it('refuses signatures that do not sign exactly their credential, with accepted algorithms and a certificate', () => {
    refusedWith(doc().replace('xml:id="Sig_ref0"', 'xml:id="Sig_other"'), /credential ref0 has no signature Sig_ref0/);
    refusedWith(doc().replace('URI="#ref0"', 'URI="#ref1"'), /does not reference #ref0/);
    refusedWith(doc().replace('URI="#ref0"', 'URI=""'), /does not reference #ref0/);
    refusedWith(doc().replace(/(<Reference[\s\S]*?<\/Reference>)/, '$1$1'), /has 2 references, not one/);
    refusedWith(doc().replace('xmldsig#rsa-sha1', 'xmldsig#hmac-sha1'), /signature algorithm .* not accepted/);
    refusedWith(doc().replace('http://www.w3.org/2000/09/xmldsig#sha1', 'http://www.w3.org/2001/04/xmldsig-more#md5'), /digest algorithm .* not accepted/);
    refusedWith(doc().replace('xmldsig#enveloped-signature', 'http://www.w3.org/TR/1999/REC-xslt-19991116'), /transform .* not accepted/);
    refusedWith(doc().replace(/<X509Data>[\s\S]*?<\/X509Data>/, ''), /carries no X509 certificate/);
    refusedWith(doc().replace('<X509Certificate>AAAA</X509Certificate>', '<X509Certificate>AAAA</X509Certificate>'.repeat(11)), /carries more than 10 certificates/);
    refusedWith(doc().replace('xmlns="http://www.w3.org/2000/09/xmldsig#"', 'xmlns="urn:fake"'), /not in the XML-DSig namespace/);
    const extraSig = doc().replace('</signatures>', `${/<Signature[\s\S]*<\/Signature>/.exec(doc())?.[0].replace('Sig_ref0', 'Sig_extra')}</signatures>`);
    refusedWith(extraSig, /there are 2 signatures for 1 credentials/);
    refusedWith(doc().replace('<uuid/>', '<uuid><Signature/></uuid>'), /a <Signature> outside <signatures>/);
  });

  it('refuses duplicated ids of any spelling (signature wrapping)', () => {
    refusedWith(doc().replace('<uuid/>', '<uuid Id="ref0"/>'), /the id "ref0" occurs 2 times/);
    refusedWith(doc().replace('<uuid/>', '<uuid xml:id="Sig_ref0"/>'), /the id "Sig_ref0" occurs 2 times/);
  });

  it('follows delegation up to 8 levels, and no deeper', () => {
    const chain = (levels: number): CredentialSpec => {
      let c = spec({ refId: `ref${levels}` });
      for (let i = levels - 1; i >= 0; i--) c = spec({ refId: `ref${i}`, parent: c });
      return c;
    };
    const ok = parseSignedCredential(doc(chain(MAX_DELEGATION_DEPTH)));
    assert.equal(ok.signatureIds.length, MAX_DELEGATION_DEPTH + 1);
    assert.deepEqual(ok.signatureIds.slice(0, 2), ['Sig_ref0', 'Sig_ref1']);
    refusedWith(doc(chain(MAX_DELEGATION_DEPTH + 1)), /delegation deeper than 8 levels/);
    refusedWith(doc(spec({ parent: spec({ refId: 'ref0' }) })), /the id "ref0" occurs 2 times/);
  });
});

describe('SFA rights', () => {
  it('maps privileges to operations, case-insensitively, with * by target type', () => {
    assert.ok(privilegesAllow([{ name: 'EMBED', canDelegate: false }], 'createsliver', 'slice'));
    assert.ok(privilegesAllow([{ name: 'info', canDelegate: false }], 'listnodes', 'user'));
    assert.equal(privilegesAllow([{ name: 'info', canDelegate: false }], 'createsliver', 'slice'), false);
    assert.equal(privilegesAllow([{ name: 'GLOBAL_PROJECTS_VIEW', canDelegate: false }], 'listnodes', 'user'), false);
    assert.ok(privilegesAllow([{ name: 'authority', canDelegate: false }], 'deletesliver', 'authority+sa'));
    assert.ok(privilegesAllow([{ name: '*', canDelegate: false }], 'createsliver', 'slice'));
    assert.equal(privilegesAllow([{ name: '*', canDelegate: false }], 'createsliver', 'user'), false);
    assert.ok(privilegesAllow([{ name: '*', canDelegate: false }], 'listnodes', 'user'));
    assert.deepEqual([...operationsOf('refresh', 'slice')], ['remove', 'update']);
  });

  it('allows delegating only what a delegatable parent privilege covers', () => {
    const p = (name: string, canDelegate: boolean) => ({ name, canDelegate });
    assert.equal(firstUndelegatedPrivilege([p('control', false)], [p('control', true)], 'slice'), undefined);
    assert.equal(firstUndelegatedPrivilege([p('control', false)], [p('control', false)], 'slice'), 'control');
    assert.equal(firstUndelegatedPrivilege([p('info', false)], [p('sa', true)], 'slice'), undefined); // sa covers info's ops
    assert.equal(firstUndelegatedPrivilege([p('control', false)], [p('embed', true)], 'slice'), 'control');
    assert.equal(firstUndelegatedPrivilege([p('*', false)], [p('authority', true)], 'slice'), undefined);
    assert.equal(firstUndelegatedPrivilege([p('authority', false)], [p('sa', true)], 'slice'), 'authority');
  });
});
