/**
 * The metric names the operators' files use exist (issue #13, decision record 028): docs/metrics.md is what the
 * daemons' registries hold (generated; stale = fail), `promtool check rules` accepts deploy/prometheus/alert-rules.yml,
 * and every metric name in its expressions and in deploy/grafana/kvm-crm-dashboard.json is one the manager or the
 * agent exposes (registries built by the daemons' own code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { exposedSeriesNames, metricsCatalogue, renderMetricsDoc, REPO_ROOT } from '@kvm-crm/harness';

const RULES = path.join(REPO_ROOT, 'deploy', 'prometheus', 'alert-rules.yml');
const DASHBOARD = path.join(REPO_ROOT, 'deploy', 'grafana', 'kvm-crm-dashboard.json');
/** Series Prometheus itself makes for every target. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names: string[] = [];
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const rest = bare.slice((m.index ?? 0) + word.length);
    if (/^\s*\(/.test(rest) || PROMQL_WORDS.has(word.toLowerCase())) continue; // a function call or a keyword
    if (/^\d/.test(word)) continue;
    names.push(word);
  }
  return names;
}

/** The `expr:` values of a rules file (one-line values and `|` blocks). */
function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    if (m[2] !== '|' && m[2] !== '>') {
      out.push(m[2]!);
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === '' || lines[i + 1]!.search(/\S/) > m[1]!.length)) block.push(lines[++i]!.trim());
    out.push(block.join(' '));
  }
  return out;
}

test('docs/metrics.md is generated from the registries and up to date', () => {
  const entries = metricsCatalogue();
  assert.ok(entries.some((e) => e.name === 'kvmcrm_actions_total' && e.type === 'counter' && e.labels.join() === 'type,result'));
  assert.ok(entries.some((e) => e.name === 'nodejs_eventloop_lag_seconds'), 'the default metrics are collected');
  const actual = readFileSync(path.join(REPO_ROOT, 'docs', 'metrics.md'), 'utf8');
  assert.equal(actual, renderMetricsDoc(entries), 'docs/metrics.md is stale: run `npx tsc -b && node scripts/dist/gen-metrics-doc.js`');
});

test('the metric-name extraction finds names and skips functions, keywords and labels', () => {
  assert.deepEqual(metricNamesIn('sum by (job, type) (rate(kvmcrm_actions_total{result="FAILED"}[30m])) / on (x) other_metric > 0.25'), ['kvmcrm_actions_total', 'other_metric']);
  assert.deepEqual(metricNamesIn('histogram_quantile(0.95, sum by (le) (rate(a_bucket[5m]))) and b == 0'), ['a_bucket', 'b']);
});

test('promtool accepts the alert rules, and rules and dashboard use only exposed metric names', async () => {
  const promtool = await execa('promtool', ['check', 'rules', RULES], { reject: false });
  assert.equal(promtool.exitCode, 0, `promtool check rules (Debian package prometheus, installed by scripts/setup-host.sh): ${promtool.stderr || promtool.stdout || promtool.message}`);
  assert.match(promtool.stdout, /SUCCESS: \d+ rules found/);

  const exposed = exposedSeriesNames();
  const rules = ruleExpressions(readFileSync(RULES, 'utf8'));
  assert.ok(rules.length >= 8, `rules found: ${rules.length}`);
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
  const panelExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `dashboard panel "${p.title}"`, expr: t.expr })));
  assert.ok(panelExprs.length >= 15, `dashboard queries: ${panelExprs.length}`);
  const used = new Set<string>();
  for (const { where, expr } of [...rules.map((expr) => ({ where: 'alert rule', expr })), ...panelExprs]) {
    const names = metricNamesIn(expr);
    assert.ok(names.length > 0, `${where}: no metric in ${expr}`);
    for (const n of names) {
      assert.ok(exposed.has(n) || PROMETHEUS_SERIES.has(n), `${where} uses ${n}, which neither daemon exposes (${expr})`);
      used.add(n);
    }
  }
  for (const needed of ['kvmcrm_agent_up', 'kvmcrm_notification_outbox_oldest_age_seconds', 'kvmcrm_pool_free_addresses', 'kvmcrm_host_memory_allocated_bytes', 'kvmcrm_actions_total', 'kvmcrm_readiness_check_ok']) {
    assert.ok(used.has(needed), `${needed} is used by the rules or the dashboard`);
  }
});
