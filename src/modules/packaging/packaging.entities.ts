import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '../../database/columns';

export type RenditionState = 'pending' | 'ready' | 'skipped' | 'failed';

/** A source file re-encoded for one device profile, cached by (source sha256, profile). */
@Entity('rendition')
export class Rendition {
  @PrimaryColumn({ name: 'source_sha256', type: 'char', length: 64 }) sourceSha256!: string;
  @PrimaryColumn({ type: 'text' }) profile!: string;
  @Column({ type: 'text' }) state!: RenditionState;
  @Column({ name: 'blob_sha256', type: 'char', length: 64, nullable: true }) blobSha256!:
    string | null;
  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber }) size!: number | null;
  @Column({ name: 'media_type', type: 'text', nullable: true }) mediaType!: string | null;
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  @Column({ type: 'int', default: 0 }) attempts!: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

export type BundleState = 'queued' | 'building' | 'ready' | 'failed' | 'superseded';

export interface PlannedFile {
  /** The bytes the terminal installs (a rendition for the profile, else the source). */
  sha256: string;
  size: number;
  mediaType: string;
  base?: { sha256: string; size: number };
  targets: { lessonId: string; version: number; path: string }[];
}

export interface BundlePlan {
  format: 'classcast-bundle/1';
  lessons: { lessonId: string; version: number }[];
  files: PlannedFile[];
  zstdLevel: number;
}

@Entity('bundle')
export class Bundle {
  @PrimaryColumn({ type: 'uuid' }) id!: string;
  @Column({ name: 'audience_type', type: 'text' }) audienceType!: 'school' | 'group';
  @Column({ name: 'audience_id', type: 'text' }) audienceId!: string;
  @Column({ type: 'text' }) state!: BundleState;
  @Column({ type: 'int', default: 0 }) progress!: number;
  @Column({ type: 'jsonb' }) plan!: BundlePlan;
  @Column({ type: 'jsonb' }) lessons!: { lessonId: string; version: number }[];
  @Column({ name: 'source_bytes', type: 'bigint', transformer: bigintNumber }) sourceBytes!: number;
  @Column({ name: 'bundle_bytes', type: 'bigint', nullable: true, transformer: bigintNumber })
  bundleBytes!: number | null;
  @Column({ type: 'char', length: 64, nullable: true }) sha256!: string | null;
  @Column({ type: 'jsonb', nullable: true }) manifest!: unknown;
  @Column({ type: 'text', nullable: true }) minisig!: string | null;
  @Column({ type: 'text', nullable: true }) error!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
  @Column({ name: 'ready_at', type: 'timestamptz', nullable: true }) readyAt!: Date | null;
  @Column({ name: 'superseded_at', type: 'timestamptz', nullable: true })
  supersededAt!: Date | null;
}
