/**
 * The intake figures and profile tops measured before decision 032, kept for bench/src/intake.ts's section (the bench
 * can only measure the code it is built from). Measured, not computed: see the text for the commit and the load.
 */
export const INTAKE_BASELINE_MARKDOWN = `Before decision 032 (commit 21db71d: first-fit address scans, a TLS context and a PEM-text pool key per outgoing
connection, one SQLite transaction per unit of work), the same bench, SQLite, 500 creates, one run each, measured
2026-12-05 03:24 UTC with load averages 6.8 (fill 0) and 12.7 (fill 10,000) on the 2 vCPUs
(\`node bench/dist/intake.js --only sqlite --runs 1 --cpu-prof\`):

| engine | fill | accepted/s | p50 ms | p99 ms | all terminal ms | FAILED |
|---|---:|---:|---:|---:|---:|---:|
| sqlite | 0 | 45.7 | 408.7 | 892 | 45725 | 1 |
| sqlite | 10000 | 19.5 | 904.3 | 2275.4 | 81218 | 35 |

Manager CPU profile before, fill 0 (main thread, 38,056 ms sampled busy; top self time):

| self ms | % of busy | function |
|---:|---:|---|
| 5596.8 | 14.7 | \`getName (node:https:236)\` |
| 4006.1 | 10.5 | \`query (typeorm/driver/better-sqlite3/BetterSqlite3QueryRunner.js:76)\` |
| 3526.9 | 9.3 | \`writev\` |
| 1606.7 | 4.2 | \`(garbage collector)\` |
| 1153.4 | 3 | \`prepare (better-sqlite3/lib/methods/wrappers.js:4)\` |
| 761.9 | 2 | \`replacePropertyNamesForTheWholeQuery (typeorm/query-builder/QueryBuilder.js:460)\` |
| 599 | 1.6 | \`(anonymous) (secure-context:61)\` |
| 557.5 | 1.5 | \`runMicrotasks\` |
| 351.8 | 0.9 | \`openTag (saxes/saxes.js:1949)\` |
| 290.6 | 0.8 | \`loadRawResults (typeorm/query-builder/SelectQueryBuilder.js:2291)\` |

Manager CPU profile before, fill 10,000 (70,044 ms sampled busy):

| self ms | % of busy | function |
|---:|---:|---|
| 14670.3 | 20.9 | \`query (typeorm/driver/better-sqlite3/BetterSqlite3QueryRunner.js:76)\` |
| 8524.3 | 12.2 | \`getName (node:https:236)\` |
| 6706.2 | 9.6 | \`writev\` |
| 2674.6 | 3.8 | \`(garbage collector)\` |
| 1678.3 | 2.4 | \`prepare (better-sqlite3/lib/methods/wrappers.js:4)\` |
| 1311.9 | 1.9 | \`replacePropertyNamesForTheWholeQuery (typeorm/query-builder/QueryBuilder.js:460)\` |
| 948.7 | 1.4 | \`(anonymous) (secure-context:61)\` |
| 927.8 | 1.3 | \`runMicrotasks\` |
| 597.3 | 0.9 | \`transformColumns (typeorm/query-builder/transformer/RawSqlResultsToEntityTransformer.js:157)\` |
| 456.7 | 0.7 | \`getQuery (typeorm/query-builder/SelectQueryBuilder.js:47)\` |
`;
