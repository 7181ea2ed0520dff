import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Roles a northbound principal may hold: `clearinghouse` (/xmlrpc/plugin), `admin` (/xmlrpc/admin and the web
 * dashboard `/ui/` with its actions), `viewer` (the dashboard, read only) and `metrics` (Prometheus `/metrics` only).
 */
export const PRINCIPAL_ROLES = ['clearinghouse', 'admin', 'viewer', 'metrics'] as const;

/** One of {@link PRINCIPAL_ROLES}. */
export type PrincipalRole = (typeof PRINCIPAL_ROLES)[number];

/** A northbound principal (HTTP Basic user, or client-certificate CN), managed with `vtctl user`. */
@Entity('principal')
export class PrincipalRecord {
  @PrimaryGeneratedColumn()
  id: number;

  /** User name: 1–100 characters, no `:` or white space (docs/ocf-protocol.md §1.3: Basic splits at the first `:`). */
  @Column({ type: 'varchar', length: 100, unique: true })
  name: string;

  /** `scrypt$N$r$p$salt$hash`; null for a principal that logs in with a client certificate only. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  passwordScrypt: string | null;

  /** Comma-separated roles. */
  @Column({ type: 'varchar', length: 64 })
  roles: string;

  @CreateDateColumn()
  createdAt: Date;
}
