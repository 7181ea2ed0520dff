/**
 * SQLite migration: the durable intake of `send` (decision 039). Table `action_intake`: one row per accepted action
 * not yet admitted (stored, or refused with its FAILED status stored). `id` is the arrival order; `action_uuid` is not
 * unique (a duplicate id is refused at admission); `callback_url` is sealed like the other callback URL columns
 * (db/secret-columns.ts); times are milliseconds since the epoch.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ActionIntakeSqlite1796460000000 implements MigrationInterface {
  name = 'ActionIntakeSqlite1796460000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "action_intake" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "action_uuid" varchar(64) NOT NULL, "action_type" varchar(16) NOT NULL, ` +
        `"vm_uuid" varchar(64), "action_json" text NOT NULL, "callback_url" text NOT NULL, "principal" varchar(255), "received_at" bigint NOT NULL, ` +
        `"lease_owner" varchar(64) NOT NULL, "lease_expires_at" bigint NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_action_intake_lease" ON "action_intake" ("lease_expires_at")`);
    await queryRunner.query(`CREATE INDEX "IDX_action_intake_vm" ON "action_intake" ("vm_uuid", "id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "IDX_action_intake_vm"`);
    await queryRunner.query(`DROP INDEX "IDX_action_intake_lease"`);
    await queryRunner.query(`DROP TABLE "action_intake"`);
  }
}
