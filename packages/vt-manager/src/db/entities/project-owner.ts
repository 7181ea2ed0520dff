import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Which clearinghouse principal created a project: the first create naming a project claims it; only that
 * principal may act on the project's VMs afterwards.
 */
@Entity('project_owner')
export class ProjectOwner {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64, unique: true })
  projectId: string;

  @Column({ type: 'varchar', length: 100 })
  principal: string;

  @CreateDateColumn()
  createdAt: Date;
}
