/**
 * Parsing of OCF callback and agent URLs that carry HTTP Basic credentials in their userinfo
 * (`https://user:password@host:port/path`, docs/ocf-protocol.md §1.4).
 */
import { InputError } from '../errors.js';
import { redactCredentials } from '../redact.js';

/** A peer URL split into the endpoint and its Basic credentials. */
export interface PeerUrl {
  /** The URL without userinfo, e.g. `https://10.0.0.5/vt_plugin/xmlrpc/vt_am/`. */
  url: URL;
  /** Percent-decoded Basic credentials, when the URL carried any. */
  basicAuth?: { user: string; pass: string };
}

/**
 * Parses `raw` the way Python's xmlrpclib does (§1.4): userinfo ends at the last `@`, the user ends at the first
 * `:`, both are percent-decoded. Only `http:` and `https:` are accepted.
 * @throws InputError for anything that is not an absolute http(s) URL (the message never shows the password).
 */
export function parsePeerUrl(raw: string): PeerUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError(`not a valid URL: ${JSON.stringify(redactCredentials(raw).slice(0, 200))}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InputError(`unsupported URL scheme ${JSON.stringify(url.protocol)}: only http and https`);
  }
  let basicAuth: PeerUrl['basicAuth'];
  if (url.username || url.password) {
    try {
      basicAuth = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
    } catch {
      throw new InputError('URL credentials are not valid percent-encoding');
    }
    url.username = '';
    url.password = '';
  }
  return { url, basicAuth };
}
