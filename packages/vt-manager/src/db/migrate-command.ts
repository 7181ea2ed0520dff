/**
 * `vt-manager migrate --config <manager.json>` (or `vt-manager --config <manager.json> --migrate-only`): applies
 * the pending schema migrations to the configured database, prints what it applied, and exits. The manager also
 * migrates at every start; this command lets an operator do it (and see it) before starting new versions.
 */
import { describeError } from '@kvm-crm/shared';
import { migrate, openDatabase, pendingMigrations, type DatabaseOptions } from './data-source.js';

/** `sqlite <path>` or `mysql user@host:port/database` (never the password). */
export function describeDatabase(db: DatabaseOptions): string {
  return db.type === 'sqlite' ? `sqlite ${db.path}` : `mysql ${db.username}@${db.host}:${db.port ?? 3306}/${db.database}`;
}

/**
 * Applies the pending migrations of `db`, writing one line per migration applied to `out`. Returns the names applied.
 * @throws the driver's or the migration's error.
 */
export async function runMigrateCommand(db: DatabaseOptions, out: (line: string) => void): Promise<string[]> {
  const ds = await openDatabase(db, { migrate: false });
  try {
    const before = await pendingMigrations(ds);
    out(`database: ${describeDatabase(db)}; ${ds.migrations.length} migration(s) known, ${before.length} pending`);
    const { applied, adopted } = await migrate(ds);
    if (adopted) out('the schema was made by an older version (synchronize) and matches this one: recording the migrations without running them');
    for (const name of applied) out(`${adopted ? 'recorded' : 'applied'}: ${name}`);
    out(applied.length ? `done: ${applied.length} migration(s) ${adopted ? 'recorded' : 'applied'}` : 'done: the schema is up to date');
    return applied;
  } finally {
    await ds.destroy();
  }
}

/** The CLI: exits 0 when the schema is up to date afterwards, 1 with a one-line reason otherwise, 2 on usage errors. */
export async function migrateMain(argv: string[], load: (file: string) => { database: DatabaseOptions }, configEnv: string): Promise<never> {
  const i = argv.indexOf('--config');
  const file = i >= 0 ? argv[i + 1] : process.env[configEnv];
  if (!file) {
    process.stderr.write(`usage: vt-manager migrate --config <file.json> (or set ${configEnv})\n`);
    process.exit(2);
  }
  try {
    await runMigrateCommand(load(file).database, (line) => process.stdout.write(`${line}\n`));
    process.exit(0);
  } catch (err) {
    process.stderr.write(`vt-manager migrate: ${describeError(err)}\n`);
    process.exit(1);
  }
}
