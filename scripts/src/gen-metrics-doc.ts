/**
 * Writes docs/metrics.md from the daemons' own registries (harness metricsCatalogue). Run after a build:
 * `node scripts/dist/gen-metrics-doc.js`. test/e2e/metrics-catalogue.test.ts fails when the file is stale.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, renderMetricsDoc } from '@kvm-crm/harness';

const file = path.join(REPO_ROOT, 'docs', 'metrics.md');
writeFileSync(file, renderMetricsDoc());
process.stdout.write(`wrote ${path.relative(REPO_ROOT, file)}\n`);
