#!/usr/bin/env node
/**
 * Developer tool: writes the migrations that bring the migrated schema to what the entities expect, one per
 * engine, and lists them in `migrations/index.ts`.
 *
 *   npx tsc -b && node packages/vt-manager/dist-tools/make-migration.js <Name>   (Name: PascalCase, e.g. AddVmTags)
 *
 * (`npx tsc -b packages/vt-manager/tools` builds only this tool and what it needs.) Compiled by tools/tsconfig.json
 * to `dist-tools/`; it uses the manager's compiled code in `dist/`, as the unit tests do.
 *
 * For each engine it applies the existing migrations to a fresh database (SQLite `:memory:`; a MySQL test
 * database from scripts/setup-mariadb.sh or KVMCRM_TEST_MYSQL_URL, dropped afterwards), asks typeorm for the
 * statements still missing (`createSchemaBuilder().log()`), and writes them as
 * `src/db/migrations/<engine>/<timestamp>-<name>.ts` (up: typeorm's statements; down: its reverse statements in
 * reverse order). MySQL CREATE TABLE statements get `DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`, so the tables
 * compare strings as SQLite does whatever the database's default. Review the files before committing them.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { openDatabase, pendingSchemaChanges } from '../dist/db/data-source.js';
import { createMysqlTestDatabase, type Engine } from '../dist/testing/test-databases.js';

type Query = { query: string; parameters?: unknown[] };

const SRC = fileURLToPath(new URL('../src/db/migrations/', import.meta.url));
const ENGINE_CLASS: Record<Engine, string> = { sqlite: 'Sqlite', mysql: 'Mysql' };

/** MySQL tables are created utf8mb4 with a binary collation (unique names compare as on SQLite). */
export function pinMysqlCharset(sql: string): string {
  return /^CREATE TABLE /.test(sql) && /ENGINE=InnoDB$/.test(sql) ? `${sql} DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin` : sql;
}

function statement(q: Query): string {
  const params = q.parameters && q.parameters.length ? `, ${JSON.stringify(q.parameters)}` : '';
  return `    await queryRunner.query(${JSON.stringify(q.query)}${params});`;
}

/** The source of one migration class. */
export function migrationSource(className: string, engine: Engine, up: Query[], down: Query[]): string {
  const fix = (q: Query): Query => (engine === 'mysql' ? { ...q, query: pinMysqlCharset(q.query) } : q);
  return `/**
 * ${engine === 'sqlite' ? 'SQLite' : 'MySQL/MariaDB'} migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(queryRunner: QueryRunner): Promise<void> {
${up.map((q) => statement(fix(q))).join('\n')}
  }

  async down(queryRunner: QueryRunner): Promise<void> {
${[...down].reverse().map((q) => statement(q)).join('\n')}
  }
}
`;
}

/** Rewrites `migrations/index.ts` from the files in the engine folders (file names sort by timestamp). */
export function writeIndex(dir: string = SRC): void {
  const imports: string[] = [];
  const lists: Record<Engine, string[]> = { sqlite: [], mysql: [] };
  for (const engine of ['sqlite', 'mysql'] as const) {
    const files = readdirSync(join(dir, engine)).filter((f) => /^\d{13}-[a-z0-9-]+\.ts$/.test(f) && !f.endsWith('.d.ts')).sort();
    for (const f of files) {
      const ts = f.slice(0, 13);
      const base = f.slice(14, -3).replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase());
      const cls = `${base}${ENGINE_CLASS[engine]}${ts}`;
      imports.push(`import { ${cls} } from './${engine}/${f.slice(0, -3)}.js';`);
      lists[engine].push(cls);
    }
  }
  writeFileSync(join(dir, 'index.ts'), `/**
 * The schema migrations, one list per engine (their SQL differs), oldest first. Written by
 * \`node packages/vt-manager/dist-tools/make-migration.js <Name>\` (see docs/decisions/008-migrations-and-mariadb.md).
 */
import type { MigrationInterface } from 'typeorm';
${imports.join('\n')}

type MigrationClass = new () => MigrationInterface;

export const SQLITE_MIGRATIONS: MigrationClass[] = [${lists.sqlite.join(', ')}];
export const MYSQL_MIGRATIONS: MigrationClass[] = [${lists.mysql.join(', ')}];
`);
}

async function changesOn(engine: Engine): Promise<{ up: Query[]; down: Query[] }> {
  if (engine === 'sqlite') {
    const ds = await openDatabase({ type: 'sqlite', path: ':memory:' });
    try {
      return await pendingSchemaChanges(ds);
    } finally {
      await ds.destroy();
    }
  }
  const db = await createMysqlTestDatabase();
  try {
    const ds = await openDatabase(db.options);
    try {
      return await pendingSchemaChanges(ds);
    } finally {
      await ds.destroy();
    }
  } finally {
    await db.drop();
  }
}

async function main(): Promise<void> {
  const name = process.argv[2] ?? '';
  if (!/^[A-Z][A-Za-z0-9]{0,60}$/.test(name)) {
    process.stderr.write('usage: make-migration.js <Name>   (PascalCase, e.g. AddVmTags)\n');
    process.exit(2);
  }
  const ts = String(Date.now());
  const kebab = name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  let wrote = 0;
  for (const engine of ['sqlite', 'mysql'] as const) {
    const { up, down } = await changesOn(engine);
    if (up.length === 0) {
      process.stdout.write(`${engine}: the migrations already match the entities\n`);
      continue;
    }
    mkdirSync(join(SRC, engine), { recursive: true });
    const file = join(SRC, engine, `${ts}-${kebab}.ts`);
    writeFileSync(file, migrationSource(`${name}${ENGINE_CLASS[engine]}${ts}`, engine, up, down));
    process.stdout.write(`${engine}: ${up.length} statement(s) → ${file}\n`);
    wrote++;
  }
  if (wrote) writeIndex();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`make-migration: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
