/**
 * The GENI v3 advertisement RSpec of `ListResources` (docs/geni-v3.md §6.2, §7.1): one `<node>` per server.
 */
import { componentManagerUrn, nodeUrn } from '../identifiers.js';
import { attribute, countAttribute } from './xml-escape.js';
import { GENI_AD_SCHEMA, GENI_RSPEC_3_NAMESPACE, GENI_RSPEC_XML_DECLARATION, XSI_NAMESPACE } from './namespaces.js';

/**
 * kvm-crm's advertisement extension: `<capacity xmlns="urn:kvm-crm:rspec:ext:capacity:1" cores ram disk/>` inside a
 * node, the capacity free for new VMs, in the units of the request's `emulab:xen` (cores = vCPUs, `ram` MiB, `disk`
 * GiB) so a client can compare them directly. Plain GENI v3 has no place for these figures; an element of another
 * namespace is allowed anywhere in a node (`AnyExtension`, `processContents="lax"`), so the advertisement stays valid
 * against ad.xsd without a schema for this namespace. The namespace is deliberately not listed in
 * `xsi:schemaLocation` (the RO tries to download every schema named there, `RU/commons.py validate`). Clients that do
 * not know it ignore it (the RO reads only `available`, links and the node attributes).
 */
export const CAPACITY_EXTENSION_NAMESPACE = 'urn:kvm-crm:rspec:ext:capacity:1';

/** The `sliver_type` advertised with the templates (§7.1: ignored by the RO, helpful for omni/jFed users). */
export const ADVERTISED_SLIVER_TYPE = 'emulab-xen';

/** One server as advertised. */
export interface AdvertisedNode {
  /** Registered server name (SERVER_NAME_PATTERN); becomes `…+node+<serverName>`. */
  serverName: string;
  /** `<available now>`: enabled, available and its agent not marked down (§6.2). */
  available: boolean;
  /** Template names offered on this server, one `<disk_image name>` each; none → no `<sliver_type>`. */
  templates: string[];
  /** Virtual CPUs free for new VMs. */
  cpus?: number;
  /** Memory free for new VMs, MiB. */
  memoryMb?: number;
  /** Disk free for new VMs, GiB. */
  diskGb?: number;
}

/**
 * Builds the advertisement (§7.1). Output, one element per line as the original crafter printed it
 * (`../geni-fixtures/rspecs/crm-ad-i2cat.xml` is reproduced byte for byte for servers without templates or figures):
 * ```
 * <?xml version="1.0" encoding="UTF-8"?>
 * <rspec xmlns="http://www.geni.net/resources/rspec/3" xmlns:xsi="…" xsi:schemaLocation="http://www.geni.net/resources/rspec/3 http://www.geni.net/resources/rspec/3/ad.xsd" type="advertisement">
 * <node component_manager_id="…+authority+cm" component_name="…+node+S" component_id="…+node+S" exclusive="false">
 * <available now="true"/>
 * <sliver_type name="emulab-xen">
 * <disk_image name="debian12"/>
 * </sliver_type>
 * <capacity xmlns="urn:kvm-crm:rspec:ext:capacity:1" cores="8" ram="16384" disk="200"/>
 * </node>
 * </rspec>
 * ```
 * `component_name` is the node URN, as the original wrote it. No `<link>` (kvm-crm's servers carry no OpenFlow
 * switch/port data, §14). Any figure left undefined is omitted; with none, no `<capacity>`. ASCII only.
 * @param authorityHrn `geni.authorityHrn`, e.g. `ocf.i2cat`.
 * @throws InputError for a bad authority HRN or server name, a figure that is not a whole number ≥ 0, or a template
 *   name holding a character XML does not allow.
 */
export function buildAdvertisement(authorityHrn: string, nodes: AdvertisedNode[]): string {
  const cm = componentManagerUrn(authorityHrn);
  const lines: string[] = [
    `<rspec xmlns="${GENI_RSPEC_3_NAMESPACE}" xmlns:xsi="${XSI_NAMESPACE}" xsi:schemaLocation="${GENI_RSPEC_3_NAMESPACE} ${GENI_AD_SCHEMA}" type="advertisement">`,
  ];
  for (const n of nodes) {
    const urn = nodeUrn(authorityHrn, n.serverName);
    const where = `node ${n.serverName}`;
    lines.push(
      `<node${attribute('component_manager_id', cm, where)}${attribute('component_name', urn, where)}${attribute('component_id', urn, where)} exclusive="false">`,
      `<available now="${n.available ? 'true' : 'false'}"/>`,
    );
    if (n.templates.length > 0) {
      lines.push(`<sliver_type name="${ADVERTISED_SLIVER_TYPE}">`);
      for (const t of n.templates) lines.push(`<disk_image${attribute('name', t, `${where} disk_image`)}/>`);
      lines.push('</sliver_type>');
    }
    const figures =
      (n.cpus === undefined ? '' : countAttribute('cores', n.cpus, where)) +
      (n.memoryMb === undefined ? '' : countAttribute('ram', n.memoryMb, where)) +
      (n.diskGb === undefined ? '' : countAttribute('disk', n.diskGb, where));
    if (figures !== '') lines.push(`<capacity xmlns="${CAPACITY_EXTENSION_NAMESPACE}"${figures}/>`);
    lines.push('</node>');
  }
  lines.push('</rspec>');
  return `${GENI_RSPEC_XML_DECLARATION}${lines.join('\n')}\n`;
}
