/**
 * The certificates of a test kvm-crm, as `vtctl certs init` makes them: a CA with its CRL, the manager's certificate
 * (role manager), optionally the agent's (role agent, CN = the server name it is registered under), each key 0600;
 * and the test clearinghouse's server certificate from the same CA, kept in memory.
 */
import path from 'node:path';
import { CertificateStore, issueCertificate, type PemPair } from '@kvm-crm/shared';

/** The `tls` file section of a manager or agent configuration. */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  crlFile: string;
}

/** What {@link issueTestCertificates} made. */
export interface TestCertificates {
  /** The CA folder as `vtctl certs` manages it (`ca.crt`, `crl.pem`, `manager.crt`, `agent.crt`, …). */
  certStore: CertificateStore;
  ca: PemPair;
  /** The test clearinghouse's server certificate (role clearinghouse, CN localhost), not written to disk. */
  clearinghouseTls: PemPair;
  /** The `tls` section for the certificate `<certsDir>/<name>.crt` with its key, the CA and the CRL. */
  tlsFiles(name: string): TlsFiles;
}

/** Options of {@link issueTestCertificates}. */
export interface TestCertificateOptions {
  /** Issue `agent.crt` (CN and DNS name `agentName`, IP 127.0.0.1): the single in-process agent. */
  agentName?: string;
  /** More IP addresses for the manager's certificate besides 127.0.0.1 (the host-side address agents in namespaces dial). */
  managerIpAddresses?: string[];
  /** More agents' certificates, `<file>.crt` each (role agent, CN and DNS name `name`, the given IP addresses). */
  agents?: Array<{ file: string; name: string; ipAddresses: string[] }>;
}

/**
 * Creates the CA in `certsDir` and issues, in this order, `manager` (CN localhost, 127.0.0.1 and
 * `managerIpAddresses`), `agent` when `agentName` is given (CN and DNS name `agentName`, 127.0.0.1), each of
 * `agents`, and the clearinghouse's certificate.
 */
export function issueTestCertificates(certsDir: string, options: TestCertificateOptions = {}): TestCertificates {
  const certStore = new CertificateStore(certsDir);
  certStore.initCa();
  const ca = certStore.readCa();
  certStore.issue('manager', { role: 'manager', commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', ...(options.managerIpAddresses ?? [])] });
  const agentName = options.agentName;
  if (agentName !== undefined) certStore.issue('agent', { role: 'agent', commonName: agentName, dnsNames: [agentName], ipAddresses: ['127.0.0.1'] });
  for (const a of options.agents ?? []) certStore.issue(a.file, { role: 'agent', commonName: a.name, dnsNames: [a.name], ipAddresses: a.ipAddresses });
  const clearinghouseTls = issueCertificate(ca, { commonName: 'localhost', role: 'clearinghouse', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
  const tlsFiles = (name: string): TlsFiles => ({
    caFile: certStore.caFile, certFile: path.join(certsDir, `${name}.crt`), keyFile: path.join(certsDir, `${name}.key`), crlFile: certStore.crlFile,
  });
  return { certStore, ca, clearinghouseTls, tlsFiles };
}
