/**
 * A daemon's TLS material (CA bundle, own certificate and key, CRL) read from files and reloaded while it runs, so
 * that certificates can be rotated and revocations take effect without a restart and without dropping a request.
 *
 * Reload triggers: a change of any of the files (polled with `fs.watchFile` every `reloadIntervalSeconds`; polling
 * sees atomic renames, which an inotify watch on the old inode would miss) and SIGHUP. A reload reads and checks
 * everything (key matches certificate, certificate signed by the CA, CRL signed by the CA and not expired, Node can
 * build a secure context); if anything is wrong the current material stays in force and the failure is logged
 * (a rotation writes the key and the certificate with two renames, so a reload in between sees a mismatch and is
 * retried). A good reload:
 * - calls `setSecureContext` on every attached server: new handshakes use the new certificate and CRL, and since
 *   a new context has new session-ticket keys, no old session is resumed; connections already open, and the
 *   requests on them, go on untouched;
 * - makes the getters of {@link ReloadableTls.clientTls} return the new material: new outgoing connections present
 *   the new certificate and check peers against the new CA and CRL (the connection pool is keyed by them, so pooled
 *   sockets of the old material are not reused for new requests and close when idle);
 * - replaces the revoked-serial set that servers check on every request ({@link ReloadableTls.isRevoked}), which
 *   also refuses a peer revoked after its keep-alive connection was made.
 */
import { EventEmitter } from 'node:events';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext, type Server as TlsServer } from 'node:tls';
import { z } from 'zod';
import { describeError, InputError } from '../errors.js';
import type { Logger } from '../logger.js';
import { assertCrlSignedBy, normaliseSerial, parseCrl } from './crl.js';
import { forgeAsn1 } from './forge-loader.js';
import { describeCertificate, type CertificateInfo } from './certificate-info.js';
import type { ExpectedPeer } from './peer-identity.js';
import type { ClientTls, ServerTls } from './tls-types.js';
import { isLegacyTlsVersion, protocolContextOptions, tlsMinVersionSchema } from './protocol-version.js';

/**
 * zod schema of a daemon's `tls` option: the files of {@link ReloadableTls}. Paths are resolved against the config
 * file's folder by the daemons.
 */
export const tlsOptionsSchema = z.object({
  caFile: z.string().min(1).describe('CA certificate(s) (PEM) that peers\' certificates must chain to. Several for a CA rollover.'),
  certFile: z.string().min(1).describe('This component\'s certificate (PEM), with its role in the subject OU.'),
  keyFile: z.string().min(1).describe('This component\'s private key (PEM, mode 0600).'),
  crlFile: z.string().min(1).optional()
    .describe(
      'The CA\'s CRL (PEM, `vtctl certs` writes `crl.pem`): peers whose certificate it lists are refused, in both ' +
      'directions. Strongly recommended; without it revoked certificates are accepted (a warning is logged at ' +
      'start).',
    ),
  reloadIntervalSeconds: z.number().positive().max(3600).default(5)
    .describe('Seconds between checks of the files for changes (rotation, new CRL). Default 5. SIGHUP reloads at once.'),
  minVersion: tlsMinVersionSchema.optional()
    .describe(
      'Lowest TLS version this daemon\'s listener accepts. Default (omitted) `TLSv1.2`. `TLSv1` only for a legacy ' +
      'OCF clearinghouse that speaks nothing newer (Expedient\'s M2Crypto transport): it also lowers OpenSSL\'s ' +
      'security level for this listener, and a warning is logged at every start.',
    ),
});
export type TlsOptions = z.infer<typeof tlsOptionsSchema>;

/** The material in force. */
export interface TlsSnapshot {
  ca: string;
  cert: string;
  key: string;
  /** PEM CRL(s), when a CRL file is configured. */
  crl?: string;
  /** What our certificate says (serial, role, names, validity). */
  certificate: CertificateInfo;
  /** Revoked serials (normalised) from the CRL. */
  revoked: ReadonlySet<string>;
  /** nextUpdate of the CRL: past it OpenSSL refuses every peer. */
  crlNextUpdate?: Date;
  crlNumber?: number;
  /** 1 for the material read at start, +1 per applied reload. */
  generation: number;
}

/** Warn when the CRL expires within this many days. */
const CRL_WARN_DAYS = 30;

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${what} ${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`);
  }
}

/**
 * Reads and checks the files; returns the snapshot (generation 0).
 * @throws InputError naming the file and the problem.
 */
export function readTlsMaterial(files: Pick<TlsOptions, 'caFile' | 'certFile' | 'keyFile' | 'crlFile'>, now = new Date()): TlsSnapshot {
  const ca = readText(files.caFile, 'CA file');
  const cert = readText(files.certFile, 'certificate file');
  const key = readText(files.keyFile, 'key file');
  const crl = files.crlFile ? readText(files.crlFile, 'CRL file') : undefined;
  const certificate = describeCertificate(cert);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new InputError('they do not match');
  } catch (err) {
    throw new InputError(`certificate ${files.certFile} and key ${files.keyFile}: ${describeError(err)}`);
  }
  let caCerts: X509Certificate[];
  try {
    caCerts = forgeAsn1().pem.decode(ca).filter((m) => m.type === 'CERTIFICATE').map((m) => new X509Certificate(Buffer.from(m.body, 'binary')));
  } catch (err) {
    throw new InputError(`CA file ${files.caFile}: ${describeError(err)}`);
  }
  if (caCerts.length === 0) throw new InputError(`CA file ${files.caFile}: no certificate in it`);
  if (!caCerts.some((c) => x509.checkIssued(c) && x509.verify(c.publicKey))) {
    throw new InputError(`certificate ${files.certFile} is not signed by a CA of ${files.caFile}`);
  }
  let revoked = new Set<string>();
  let crlNextUpdate: Date | undefined;
  let crlNumber: number | undefined;
  if (crl !== undefined) {
    try {
      const parsed = parseCrl(crl);
      assertCrlSignedBy(crl, ca);
      revoked = new Set(parsed.revoked.map((r) => normaliseSerial(r.serial)));
      crlNextUpdate = parsed.nextUpdate;
      crlNumber = parsed.crlNumber;
    } catch (err) {
      throw new InputError(`CRL file ${files.crlFile}: ${describeError(err)}`);
    }
    if (crlNextUpdate && crlNextUpdate.getTime() <= now.getTime()) {
      throw new InputError(`CRL file ${files.crlFile} expired at ${crlNextUpdate.toISOString()} (every peer would be refused): re-sign it with \`vtctl certs crl\``);
    }
  }
  try {
    createSecureContext({ ca, cert, key, ...(crl ? { crl } : {}) });
  } catch (err) {
    throw new InputError(`TLS files ${files.certFile}, ${files.keyFile}, ${files.caFile}: ${describeError(err)}`);
  }
  return {
    ca, cert, key, ...(crl !== undefined ? { crl } : {}), certificate, revoked,
    ...(crlNextUpdate ? { crlNextUpdate } : {}), ...(crlNumber !== undefined ? { crlNumber } : {}), generation: 0,
  };
}

/** Options of {@link ReloadableTls.clientTls}. */
export interface LiveClientTlsOptions {
  /** Also trust the system root CAs (clearinghouse callbacks). Default false. */
  systemRoots?: boolean;
  /** More CA certificates (PEM) to trust. */
  extraCa?: string[];
  /**
   * Check server certificates against our CRL. Default true. Turn it off when peers may chain to other CAs
   * (OpenSSL then wants a CRL from every issuer).
   */
  useCrl?: boolean;
  /** Present our certificate. Default true. */
  presentCertificate?: boolean;
  /** Name/role the server certificate must have (see {@link ExpectedPeer}). */
  expectPeer?: ExpectedPeer;
}

/**
 * The TLS material of a daemon, reloadable. Events: `reload` (the new {@link TlsSnapshot}) after a reload was
 * applied, `reloadFailed` (the error) when a reload was refused and the old material kept.
 */
export class ReloadableTls extends EventEmitter {
  private snapshot: TlsSnapshot;
  private readonly servers = new Set<TlsServer>();
  private watching = false;
  private debounce?: NodeJS.Timeout;
  private retries = 0;
  private readonly onSighup = () => this.reload('SIGHUP');

  private constructor(
    private readonly files: TlsOptions,
    private readonly logger: Logger,
    snapshot: TlsSnapshot,
  ) {
    super();
    this.snapshot = { ...snapshot, generation: 1 };
  }

  /**
   * Reads the files once (nothing is watched until {@link watch}); logs a warning when no CRL is configured or the
   * CRL expires within 30 days.
   * @throws InputError naming the file and the problem (unreadable, key does not match, not signed by the CA, CRL
   *   not signed by the CA or expired).
   */
  static load(files: TlsOptions, logger: Logger): ReloadableTls {
    const tls = new ReloadableTls(files, logger, readTlsMaterial(files));
    if (files.minVersion && isLegacyTlsVersion(files.minVersion)) {
      logger.warn(`tls.minVersion is ${files.minVersion}: this listener accepts obsolete TLS (for a legacy clearinghouse); set TLSv1.2 when no such client remains`);
    }
    if (!files.crlFile) logger.warn('no tls.crlFile configured: revoked certificates are not refused');
    tls.warnIfCrlExpiresSoon();
    return tls;
  }

  /** The material in force. */
  get current(): TlsSnapshot {
    return this.snapshot;
  }

  /** True when the current CRL lists `serial` (any hex form). */
  isRevoked(serial: string): boolean {
    return this.snapshot.revoked.has(normaliseSerial(serial));
  }

  /** Options for {@link createHttpsServer} from the current material; pass the server to {@link attach} afterwards. */
  serverTls(extra: Pick<ServerTls, 'requestCert'> = {}): ServerTls {
    const s = this.snapshot;
    return { cert: s.cert, key: s.key, ca: s.ca, ...(s.crl ? { crl: s.crl } : {}), ...(this.files.minVersion ? { minVersion: this.files.minVersion } : {}), ...extra };
  }

  /** Keeps `server`'s secure context in step with the material (setSecureContext on each reload). */
  attach(server: TlsServer): void {
    this.servers.add(server);
  }

  /** Stops updating `server`. */
  detach(server: TlsServer): void {
    this.servers.delete(server);
  }

  /**
   * A {@link ClientTls} whose fields are getters over the material in force: give it to code that makes an
   * `XmlRpcClient` per call, and each new client uses the latest certificate, CA and CRL. Its `secureContext` is
   * built once per generation of the material (the first time it is read after a reload) and reused until the next.
   */
  clientTls(options: LiveClientTlsOptions = {}): ClientTls {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    // One secure context per generation of the material: building one parses every CA certificate (with the system
    // roots, ~140) and costs milliseconds, and the connection pool would otherwise key sockets by the whole PEM text.
    let built: { generation: number; context: SecureContext } | undefined;
    return {
      get secureContext() {
        if (built?.generation !== self.snapshot.generation) {
          const crl = options.useCrl === false ? undefined : self.snapshot.crl;
          const own = options.presentCertificate === false ? {} : { cert: self.snapshot.cert, key: self.snapshot.key };
          built = { generation: self.snapshot.generation, context: createSecureContext({ ca: this.ca, ...own, ...(crl ? { crl } : {}) }) };
        }
        return built.context;
      },
      get ca() {
        return [...(options.systemRoots ? rootCertificates : []), self.snapshot.ca, ...(options.extraCa ?? [])];
      },
      get cert() {
        return options.presentCertificate === false ? undefined : self.snapshot.cert;
      },
      get key() {
        return options.presentCertificate === false ? undefined : self.snapshot.key;
      },
      get crl() {
        return options.useCrl === false ? undefined : self.snapshot.crl;
      },
      ...(options.expectPeer ? { expectPeer: options.expectPeer } : {}),
    };
  }

  /**
   * Re-reads the files now. Applies them when their content changed and they pass every check; otherwise keeps
   * the current material. Never throws. Returns true when new material was applied.
   */
  reload(trigger = 'manual'): boolean {
    return this.tryReload(trigger) === 'applied';
  }

  private tryReload(trigger: string): 'applied' | 'unchanged' | 'refused' {
    let next: TlsSnapshot;
    try {
      next = readTlsMaterial(this.files);
    } catch (err) {
      this.logger.warn('TLS reload refused, current certificate and CRL kept', { trigger, error: describeError(err) });
      this.emit('reloadFailed', err);
      return 'refused';
    }
    const cur = this.snapshot;
    if (next.ca === cur.ca && next.cert === cur.cert && next.key === cur.key && next.crl === cur.crl) return 'unchanged';
    const context = { ca: next.ca, cert: next.cert, key: next.key, ...(next.crl ? { crl: next.crl } : {}), ...protocolContextOptions(this.files.minVersion) };
    for (const server of this.servers) server.setSecureContext(context);
    this.snapshot = { ...next, generation: cur.generation + 1 };
    this.logger.info('TLS material reloaded', {
      trigger, certSerial: next.certificate.serial, previousSerial: cur.certificate.serial, notAfter: next.certificate.notAfter.toISOString(),
      crlNumber: next.crlNumber, revoked: next.revoked.size,
    });
    this.warnIfCrlExpiresSoon();
    this.emit('reload', this.snapshot);
    return 'applied';
  }

  /** Starts watching the files (polling every `reloadIntervalSeconds`) and reloading on SIGHUP. Idempotent. */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    const interval = Math.max(50, Math.round(this.files.reloadIntervalSeconds * 1000));
    for (const file of this.watchedFiles()) watchFile(file, { interval, persistent: false }, this.onChange);
    process.on('SIGHUP', this.onSighup);
  }

  /** Stops watching and forgets the attached servers. */
  close(): void {
    if (this.watching) {
      for (const file of this.watchedFiles()) unwatchFile(file, this.onChange);
      process.off('SIGHUP', this.onSighup);
      this.watching = false;
    }
    clearTimeout(this.debounce);
    this.servers.clear();
  }

  private watchedFiles(): string[] {
    return [this.files.caFile, this.files.certFile, this.files.keyFile, ...(this.files.crlFile ? [this.files.crlFile] : [])];
  }

  private readonly onChange = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs === prev.mtimeMs && curr.ino === prev.ino && curr.size === prev.size) return;
    this.retries = 0;
    this.schedule(100);
  };

  /** Reloads after `ms` (coalescing the changes of a rotation); a refused reload is retried a few times. */
  private schedule(ms: number): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      if (this.tryReload('file change') === 'refused' && this.retries < 3) {
        // a refused reload may be a rotation half-written (new key, old certificate): try again shortly
        this.retries++;
        this.schedule(Math.max(200, this.files.reloadIntervalSeconds * 1000));
      }
    }, ms);
    this.debounce.unref();
  }

  private warnIfCrlExpiresSoon(): void {
    const next = this.snapshot.crlNextUpdate;
    if (next && next.getTime() - Date.now() < CRL_WARN_DAYS * 24 * 3600 * 1000) {
      this.logger.warn('the CRL expires soon: re-sign it with `vtctl certs crl` before then, or every peer will be refused', { nextUpdate: next.toISOString() });
    }
  }
}
