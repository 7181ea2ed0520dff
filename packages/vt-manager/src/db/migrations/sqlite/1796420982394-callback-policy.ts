/**
 * SQLite migration written by tools/make-migration.ts from the entities (typeorm's schema builder).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CallbackPolicySqlite1796420982394 implements MigrationInterface {
  name = 'CallbackPolicySqlite1796420982394';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE TABLE \"callback_policy\" (\"id\" integer PRIMARY KEY AUTOINCREMENT NOT NULL, \"principal\" varchar(100) NOT NULL, \"allowHttp\" boolean NOT NULL DEFAULT (0), \"allow\" varchar(2048) NOT NULL DEFAULT (''), \"setBy\" varchar(100) NOT NULL, \"updatedAt\" datetime NOT NULL DEFAULT (datetime('now')), CONSTRAINT \"UQ_97db67344580a17210b0c8486e6\" UNIQUE (\"principal\"))");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("DROP TABLE \"callback_policy\"");
  }
}
