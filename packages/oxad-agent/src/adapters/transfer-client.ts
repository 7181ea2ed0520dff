/**
 * The sending half of an agent-to-agent disk transfer (decision record 025): `PUT /migration/transfer/<ticket>/<file>`
 * on the target agent over mutual TLS. We present our agent certificate; the target's certificate must chain to our
 * CA (and its CRL) and be of role `agent` naming the target server. The file is streamed from disk with
 * backpressure (a pipeline into the request), never read whole.
 */
import { createReadStream } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { UpstreamError } from '@kvm-crm/shared/errors';
import { serverIdentityChecker, type ClientTls } from '@kvm-crm/shared/tls';
import { assertAbsolutePath } from './safe-path.js';

/** One file to push. */
export interface PushRequest {
  /** The target agent's base URL (https), as the manager registered it. */
  targetUrl: string;
  /** The target server's registered name: its certificate must name it. */
  targetName: string;
  ticketId: string;
  name: string;
  /** Absolute path of the file here. */
  path: string;
  sizeBytes: number;
}

/** Pushes files to target agents with our TLS material (read at each call: live objects work). */
export class TransferClient {
  constructor(
    private readonly tls: ClientTls,
    /** Seconds without any progress before the upload is abandoned. Default 60. */
    private readonly idleTimeoutSeconds = 60,
  ) {}

  /**
   * Streams the file to the target; resolves when the target answered 2xx (it verified size and SHA-256).
   * `onBytes` is told each chunk's length as it is handed to the socket.
   * @throws UpstreamError with the target's answer (status and message) or the network error.
   */
  async push(r: PushRequest, onBytes: (n: number) => void = () => undefined): Promise<void> {
    const url = new URL(`migration/transfer/${r.ticketId}/${r.name}`, r.targetUrl.endsWith('/') ? r.targetUrl : `${r.targetUrl}/`);
    if (url.protocol !== 'https:') throw new UpstreamError(`target agent URL ${r.targetUrl} is not https: transfers need mutual TLS`);
    const expect = { name: r.targetName, role: 'agent' as const };
    const options: RequestOptions = {
      method: 'PUT',
      ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key, ...(this.tls.crl ? { crl: this.tls.crl } : {}),
      rejectUnauthorized: true,
      checkServerIdentity: serverIdentityChecker(expect, checkServerIdentity),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(r.sizeBytes) },
      agent: false,
    };
    const file = assertAbsolutePath(r.path, 'file to send');
    await new Promise<void>((resolve, reject) => {
      const req = request(url, options, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.length < 64 && parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8').slice(0, 500);
          if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) resolve();
          else reject(new UpstreamError(`target ${r.targetName} refused ${r.name}: HTTP ${res.statusCode}: ${text}`));
        });
        res.on('error', (e) => reject(new UpstreamError(`target ${r.targetName}: ${e.message}`)));
      });
      req.setTimeout(this.idleTimeoutSeconds * 1000, () => req.destroy(new Error(`no progress for ${this.idleTimeoutSeconds} s`)));
      req.on('error', (e) => reject(new UpstreamError(`sending ${r.name} to ${r.targetName} failed: ${e.message}`)));
      const meter = new Transform({ transform(chunk: Buffer, _e, done) { onBytes(chunk.length); done(null, chunk); } });
      pipeline(createReadStream(file), meter, req).catch((e: unknown) => {
        req.destroy();
        reject(new UpstreamError(`sending ${r.name} to ${r.targetName} failed: ${e instanceof Error ? e.message : String(e)}`));
      });
    });
  }
}
