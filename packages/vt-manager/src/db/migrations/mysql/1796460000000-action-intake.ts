/**
 * MySQL/MariaDB migration: the durable intake of `send` (decision 039). Table `action_intake`: one row per accepted
 * action not yet admitted (stored, or refused with its FAILED status stored). `id` is the arrival order;
 * `action_uuid` is not unique (a duplicate id is refused at admission); `callback_url` is sealed like the other
 * callback URL columns (db/secret-columns.ts); times are milliseconds since the epoch.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ActionIntakeMysql1796460000000 implements MigrationInterface {
  name = 'ActionIntakeMysql1796460000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE `action_intake` (`id` bigint NOT NULL AUTO_INCREMENT, `action_uuid` varchar(64) NOT NULL, `action_type` varchar(16) NOT NULL, ' +
        '`vm_uuid` varchar(64) NULL, `action_json` mediumtext NOT NULL, `callback_url` text NOT NULL, `principal` varchar(255) NULL, `received_at` bigint NOT NULL, ' +
        '`lease_owner` varchar(64) NOT NULL, `lease_expires_at` bigint NOT NULL, INDEX `IDX_action_intake_lease` (`lease_expires_at`), INDEX `IDX_action_intake_vm` (`vm_uuid`, `id`), PRIMARY KEY (`id`)) ' +
        'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE `action_intake`');
  }
}
