/**
 * SQLite migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class QuotasAndOutboxFairnessSqlite1796420628668 implements MigrationInterface {
  name = 'QuotasAndOutboxFairnessSqlite1796420628668';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"principal_quota\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"principal\" varchar(100) NOT NULL, \"maxVms\" integer, \"maxVcpus\" integer, \"maxMemoryMib\" integer, \"maxAddresses\" integer, \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_dd7c48849a44c3de628b93d79f2\" UNIQUE (\"principal\"))");
    await queryRunner.query("DROP INDEX \"IDX_7115151a4129c7122d972a366b\"");
    await queryRunner.query("CREATE TABLE \"temporary_notification\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"rspec\" text NOT NULL, \"attempts\" integer NOT NULL DEFAULT (0), \"nextAttemptAt\" datetime NOT NULL, \"lastError\" varchar(2048) NOT NULL DEFAULT (''), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')), \"documents\" integer NOT NULL DEFAULT (1), \"principal\" varchar(100), \"urlKey\" varchar(64) NOT NULL DEFAULT (''))");
    await queryRunner.query("INSERT INTO \"temporary_notification\"(\"id\", \"callbackUrl\", \"rspec\", \"attempts\", \"nextAttemptAt\", \"lastError\", \"createdAt\") SELECT \"id\", \"callbackUrl\", \"rspec\", \"attempts\", \"nextAttemptAt\", \"lastError\", \"createdAt\" FROM \"notification\"");
    await queryRunner.query("DROP TABLE \"notification\"");
    await queryRunner.query("ALTER TABLE \"temporary_notification\" RENAME TO \"notification\"");
    await queryRunner.query("CREATE INDEX \"IDX_7115151a4129c7122d972a366b\" ON \"notification\" (\"nextAttemptAt\") ");
    await queryRunner.query("CREATE INDEX \"IDX_99f7408ff33835fc4909baed7f\" ON \"notification\" (\"principal\") ");
    await queryRunner.query("CREATE INDEX \"IDX_344aa37a43779b45a579013b20\" ON \"notification\" (\"urlKey\") ");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP INDEX \"IDX_344aa37a43779b45a579013b20\"");
    await queryRunner.query("DROP INDEX \"IDX_99f7408ff33835fc4909baed7f\"");
    await queryRunner.query("DROP INDEX \"IDX_7115151a4129c7122d972a366b\"");
    await queryRunner.query("ALTER TABLE \"notification\" RENAME TO \"temporary_notification\"");
    await queryRunner.query("CREATE TABLE \"notification\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"callbackUrl\" varchar(2048) NOT NULL, \"rspec\" text NOT NULL, \"attempts\" integer NOT NULL DEFAULT (0), \"nextAttemptAt\" datetime NOT NULL, \"lastError\" varchar(2048) NOT NULL DEFAULT (''), \"createdAt\" datetime NOT NULL DEFAULT (datetime('now')))");
    await queryRunner.query("INSERT INTO \"notification\"(\"id\", \"callbackUrl\", \"rspec\", \"attempts\", \"nextAttemptAt\", \"lastError\", \"createdAt\") SELECT \"id\", \"callbackUrl\", \"rspec\", \"attempts\", \"nextAttemptAt\", \"lastError\", \"createdAt\" FROM \"temporary_notification\"");
    await queryRunner.query("DROP TABLE \"temporary_notification\"");
    await queryRunner.query("CREATE INDEX \"IDX_7115151a4129c7122d972a366b\" ON \"notification\" (\"nextAttemptAt\") ");
    await queryRunner.query("DROP TABLE \"principal_quota\"");
  }
}
