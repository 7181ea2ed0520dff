/**
 * The GENI v3 manifest RSpec of `Allocate`, `Provision` and `Describe` (docs/geni-v3.md §6.3, §6.4, §6.6, §7.3).
 */
import { InputError } from '../../errors.js';
import { VM_NAME_PATTERN } from '../../validation.js';
import { componentManagerUrn, nodeUrn } from '../identifiers.js';
import { parseUrnOfType } from '../urn.js';
import { attribute } from './xml-escape.js';
import { GENI_MANIFEST_SCHEMA, GENI_RSPEC_3_NAMESPACE, GENI_RSPEC_XML_DECLARATION, XSI_NAMESPACE } from './namespaces.js';

/** The `sliver_type` name of every manifest node: the original's `VM` (the RO's monitoring lower-cases it, §7.3). */
export const MANIFEST_SLIVER_TYPE = 'VM';

/** One sliver (VM) in a manifest. */
export interface ManifestSliver {
  /** The request's `client_id` (VM name). */
  clientId: string;
  /** The server it is placed on; the node URN written is the advertised one (also for unbound requests). */
  serverName: string;
  /** The sliver URN as stored (written as `sliver_id`). */
  sliverUrn: string;
  /** The template used (`<disk_image name>`); omitted when undefined. */
  template?: string;
  /** One `ssh-keys` login per user whose keys were installed; empty until the VM has a management address. */
  logins: { hostname: string; username: string }[];
}

/**
 * Builds a manifest (§7.3), one element per line as the original crafter printed it:
 * ```
 * <?xml version="1.0" encoding="UTF-8"?>
 * <rspec xmlns="http://www.geni.net/resources/rspec/3" xmlns:xsi="…" xsi:schemaLocation="http://www.geni.net/resources/rspec/3 http://www.geni.net/resources/rspec/3/manifest.xsd" type="manifest">
 * <node client_id="vm1" component_id="…+node+S" component_manager_id="…+authority+cm" sliver_id="…+sliver+vm1" exclusive="false">
 * <sliver_type name="VM">
 * <disk_image name="debian12"/>
 * </sliver_type>
 * <services>
 * <login authentication="ssh-keys" hostname="10.0.0.5" port="22" username="jdoe"/>
 * </services>
 * </node>
 * </rspec>
 * ```
 * Always a `<sliver_type name="VM">` (also for allocated-only slivers, unlike the original); `<services>` only when
 * there are logins. An empty list gives an empty manifest (`<rspec …>` and `</rspec>`), which is valid. ASCII only.
 * @param authorityHrn `geni.authorityHrn`, e.g. `ocf.i2cat`.
 * @throws InputError for a bad authority HRN or server name, a client id that is not a VM name, a `sliverUrn` that is
 *   not a sliver URN, an empty hostname or username, or a value holding a character XML does not allow.
 */
export function buildManifest(authorityHrn: string, slivers: ManifestSliver[]): string {
  const cm = componentManagerUrn(authorityHrn);
  const lines: string[] = [
    `<rspec xmlns="${GENI_RSPEC_3_NAMESPACE}" xmlns:xsi="${XSI_NAMESPACE}" xsi:schemaLocation="${GENI_RSPEC_3_NAMESPACE} ${GENI_MANIFEST_SCHEMA}" type="manifest">`,
  ];
  for (const s of slivers) {
    if (typeof s.clientId !== 'string' || !VM_NAME_PATTERN.test(s.clientId)) {
      throw new InputError(`cannot write manifest: client_id ${JSON.stringify(String(s.clientId).slice(0, 80))} is not a VM name`);
    }
    const where = `node ${s.clientId}`;
    parseUrnOfType(s.sliverUrn, 'sliver');
    const node = nodeUrn(authorityHrn, s.serverName);
    lines.push(
      `<node${attribute('client_id', s.clientId, where)}${attribute('component_id', node, where)}` +
        `${attribute('component_manager_id', cm, where)}${attribute('sliver_id', s.sliverUrn, where)} exclusive="false">`,
      `<sliver_type name="${MANIFEST_SLIVER_TYPE}">`,
    );
    if (s.template !== undefined) lines.push(`<disk_image${attribute('name', s.template, `${where} disk_image`)}/>`);
    lines.push('</sliver_type>');
    if (s.logins.length > 0) {
      lines.push('<services>');
      for (const l of s.logins) {
        if (!l.hostname || !l.username) throw new InputError(`cannot write manifest: ${where} has a login without hostname or username`);
        lines.push(`<login authentication="ssh-keys"${attribute('hostname', l.hostname, `${where} login`)} port="22"${attribute('username', l.username, `${where} login`)}/>`);
      }
      lines.push('</services>');
    }
    lines.push('</node>');
  }
  lines.push('</rspec>');
  return `${GENI_RSPEC_XML_DECLARATION}${lines.join('\n')}\n`;
}
