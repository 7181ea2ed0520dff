import { Column, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/**
 * What one principal's callback URLs may target beyond the default (https to public addresses; decision 014), set
 * with `vtctl user set-callback-policy`. Keyed by principal name, so config (bootstrap) principals can have one too;
 * no row: the default policy.
 */
@Entity('callback_policy')
export class CallbackPolicyRecord {
  @PrimaryGeneratedColumn()
  id: number;

  /** The principal's name (as in `principal.name` or the config's `users`). */
  @Column({ type: 'varchar', length: 100, unique: true })
  principal: string;

  /** Plain http callbacks allowed (a legacy clearinghouse). */
  @Column({ type: 'boolean', default: false })
  allowHttp: boolean;

  /** Allowed targets, space-separated: CIDRs (`127.0.0.1/32`, `fd00::/8`) and origins (`https://ch.example:8443`). */
  @Column({ type: 'varchar', length: 2048, default: '' })
  allow: string;

  /** The admin who last set it. */
  @Column({ type: 'varchar', length: 100 })
  setBy: string;

  @UpdateDateColumn()
  updatedAt: Date;
}
