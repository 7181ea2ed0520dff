/**
 * @kvm-crm/harness: the end-to-end test harness shared by test/e2e, scripts/ (the demo) and bench/. Everything it
 * starts is real (TLS, XML-RPC, libvirt, processes); nothing here is a fake of a kvm-crm part.
 */
export { REPO_ROOT } from './repo-root.js';
export { LIBVIRT_URI, virsh, domainsWithPrefix, removeDomains, restartLibvirtd } from './libvirt.js';
export { freePort } from './free-port.js';
export { issueTestCertificates, type TestCertificateOptions, type TestCertificates, type TlsFiles } from './certificates.js';
export { TestClearinghouse, type ReceivedStatus } from './clearinghouse.js';
export { installTestTemplate, startCluster, type Cluster, type ClusterBase, type ClusterOptions, type MultiHostCluster } from './cluster.js';
export { HOST_AGENT_PORT, registerHost, startHostAgent, type ClusterHost, type HostAgentSetup } from './cluster-hosts.js';
export { createBrowserNetwork, removeBrowserNetwork, type BrowserNetwork } from './browser-network.js';
export { MAX_HOSTS, freeTestSubnet, createClusterNetwork, networkLeftovers, planClusterNetwork, removeClusterNetwork, type ClusterNetwork, type HostNetwork } from './netns.js';
export { allowLoopbackCallbacks, TEST_CLIENT_MAX_RESPONSE_BYTES } from './callback-policy.js';
export { mysqlSettings, connectMysql, createTestDatabase, testDatabaseOrSkip, type MysqlSettings, type TestDatabase, type TestDatabaseOnServer } from './mariadb.js';
export { startPrivateMariadb, type PrivateMariadb } from './private-mariadb.js';
export {
  startManagerProcesses,
  type LegacyServerRanges,
  type ManagerName,
  type ManagerProcesses,
  type ManagerProcessesOptions,
} from './manager-processes.js';
export { createQuery, lifecycleQuery, PROJECT_ID, SLICE_ID, type CreateQueryInput } from './expedient-queries.js';
export { PYTHON, PYTHON_DIR, FIXTURES_DIR, startPython, readFirstLine, type PythonProcess } from './python.js';
export { rawPost, decodeXmlRpc, faultOf, xmlEscape, methodCallXml, type RawPostOptions, type RawResponse } from './raw-https.js';
export { findReadyLine, waitForReadyLine, waitForReadyLines, type ReadyLine } from './serial-log.js';
export {
  snapshot,
  diffSnapshots,
  formatChanges,
  assertUnchanged,
  HASH_LIMIT_BYTES,
  type Change,
  type DbRow,
  type DomainEntry,
  type FileEntry,
  type SnapshotTarget,
  type StateSnapshot,
} from './state-snapshot.js';
export { GENI_FIXTURES_DIR, mintGeniCredentials, type GeniTestCredentials } from './geni-credentials.js';
export { runFelixRo, type FelixRoRecord, type FelixRoTarget } from './geni-felix-ro.js';
export { CHROMIUM_ARGS, CHROMIUM_PATH, launchChromium, type ChromiumOptions } from './chromium.js';
export { metricsCatalogue, exposedSeriesNames, renderMetricsDoc, type MetricEntry } from './metrics-catalogue.js';
