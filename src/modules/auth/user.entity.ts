import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';

export const ROLES = ['admin', 'bureau', 'viewer'] as const;
export type UserRole = (typeof ROLES)[number];

@Entity('app_user')
export class User {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text' }) email!: string;
  @Column({ name: 'password_hash', type: 'text' }) passwordHash!: string;
  @Column({ type: 'text' }) role!: UserRole;
  @Column({ name: 'bureau_id', type: 'uuid', nullable: true }) bureauId!: string | null;
  @Column({ name: 'region_id', type: 'uuid', nullable: true }) regionId!: string | null;
  @Column({ type: 'boolean', default: false }) disabled!: boolean;
  /** Bumped on disable and password change; tokens carry it, so old tokens stop working at once. */
  @Column({ name: 'token_version', type: 'int', default: 0 }) tokenVersion!: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
