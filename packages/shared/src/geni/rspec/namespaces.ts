/**
 * Namespaces and schema locations of GENI v3 RSpecs (docs/geni-v3.md §7) and of the extensions kvm-crm reads or
 * writes. One place, so the parser and the builders agree.
 */

/** The GENI RSpec v3 namespace: the default namespace of every RSpec we read or write (§7). */
export const GENI_RSPEC_3_NAMESPACE = 'http://www.geni.net/resources/rspec/3';
/** XML Schema instance namespace (`xsi:schemaLocation`); the RO's requests bind it to the prefix `xs` (§7.2). */
export const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';
/** ProtoGENI emulab extension: `emulab:xen` with `cores`, `ram` (MB), `disk` (GB) in requests (§7, §7.2). */
export const EMULAB_EXTENSION_NAMESPACE = 'http://www.protogeni.net/resources/rspec/ext/emulab/1';

/** Schema of GENI v3 advertisements, named in `xsi:schemaLocation` (§7.1). */
export const GENI_AD_SCHEMA = 'http://www.geni.net/resources/rspec/3/ad.xsd';
/** Schema of GENI v3 requests (§6.1 GetVersion `geni_request_rspec_versions`). */
export const GENI_REQUEST_SCHEMA = 'http://www.geni.net/resources/rspec/3/request.xsd';
/** Schema of GENI v3 manifests, named in `xsi:schemaLocation` (§7.3). */
export const GENI_MANIFEST_SCHEMA = 'http://www.geni.net/resources/rspec/3/manifest.xsd';

/** The XML declaration our RSpecs start with (§7.1, §7.3; the original crafter's header), newline included. */
export const GENI_RSPEC_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
