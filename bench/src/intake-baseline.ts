/**
 * The intake figures and profile tops measured before decisions 032, 034 and 039, kept for bench/src/intake.ts's section (the
 * bench can only measure the code it is built from). Measured, not computed: see the text for the commit and the load.
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

Before decision 039 (commit a46c4f2: \`send\` ran the whole admission, ~35 statements per create under the server
lock, before answering), the code before and after back to back, 2026-12-05 13:38–13:44 UTC, the machine shared with
two other helpers' runs (load averages in the table; the figures after are this bench's own section), \`node bench/dist/intake.js --only <engine> --runs 1 --fill 0\`:

| code | engine | run | accepted/s | p50 ms | p99 ms | all terminal ms | FAILED | manager CPU ms/create | load avg |
|---|---|---:|---:|---:|---:|---:|---:|---:|---|
| before | sqlite | 1 | 75.5 | 250 | 484.1 | 44464 | 0 | 33.1 | 3.7 → 6.1 |
| before | mariadb | 1 | 20.4 | 857.3 | 1979.9 | 94306 | 0 | 43 | 6.1 → 6.8 |

Before decision 034 (commit efd2c89: hand-overs started at once beside the intake, the backlog read on every \`send\`,
a create's checks and action row under the server lock, \`SET TRANSACTION\` before every MySQL transaction, rows read
back after insert, a stack trace per mysql2 query), 2026-12-05 06:50–07:10 UTC, the machine shared with three other
benchmark and test runs (load averages 4–13 on the 2 vCPUs, so wall-clock figures moved by 2× between runs of the
same code): the code before and after back to back, \`node bench/dist/intake.js --only <engine> --fill 0 --runs N\`:

| code | engine | run | accepted/s | p50 ms | p99 ms | all terminal ms | FAILED | manager CPU ms/create | load avg |
|---|---|---:|---:|---:|---:|---:|---:|---:|---|
| before | sqlite | 1 | 42.1 | 409.5 | 928.2 | 38587 | 0 | 32.9 | 3.9 → 6.5 |
| before | sqlite | 2 | 19.7 | 840.5 | 3493.6 | 60300 | 114 (agent unreachable) | 28.8 | 3.9 → 6.5 |
| after | sqlite | 1 | 34.5 | 410.8 | 1605 | 54106 | 0 | 38 | 6.5 → 7.2 |
| after | sqlite | 2 | 44 | 422.2 | 1471.2 | 31458 | 0 | 24.6 | 6.5 → 7.2 |
| before | mariadb | 1 | 16.9 | 1185.4 | 2284.3 | 76664 | 0 | 43 | 7.2 → 7.3 |
| after | mariadb | 1 | 6.9 | 2683.4 | 5434.1 | 289173 | 0 | 75.5 | 7.3 → 13.6 (this series' e2e tests ran beside it) |

Statements per create (typeorm's query runners wrapped; one create with a principal on a host with two bridges):
SQLite \`send\` 41 → 35 (from the placement's server lock on: 37 → 28), MySQL \`send\` 35 → 32 (30 → 25), MySQL
hand-over 7 → 6. Manager CPU profile before, MariaDB, fill 0 (main thread, 115,712 ms sampled busy at load 12;
\`writeBuffer\` is the socket write of mysql2's packets, one per statement):

| self ms | % of busy | function |
|---:|---:|---|
| 37907.7 | 32.8 | \`writeBuffer\` |
| 7075.9 | 6.1 | \`writev\` |
| 4648.9 | 4 | \`captureStackHolder (mysql2/lib/promise/capture_local_err.js:4)\` |
| 3931.9 | 3.4 | \`(garbage collector)\` |
| 1797.8 | 1.6 | \`runMicrotasks\` |
| 1681.5 | 1.5 | \`replacePropertyNamesForTheWholeQuery (typeorm/query-builder/QueryBuilder.js:460)\` |
| 1397.8 | 1.2 | \`internalConnect (node:net:1038)\` |
| 965.7 | 0.8 | \`query (typeorm/driver/mysql/MysqlQueryRunner.js:150)\` |
`;
