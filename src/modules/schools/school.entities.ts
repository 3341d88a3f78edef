import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { bigintNumber } from '../../database/columns';
import type { ReceiveWindow, TeacherGap } from './fields/school-fields';

@Entity('school')
export class School {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text' }) code!: string;
  @Column({ name: 'region_id', type: 'uuid' }) regionId!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ type: 'int' }) pupils!: number;
  @Column({ type: 'int', array: true }) grades!: number[];
  @Column({ type: 'text', array: true }) languages!: string[];
  @Column({ name: 'teacher_gaps', type: 'jsonb' }) teacherGaps!: TeacherGap[];
  @Column({ name: 'downlink_kbps', type: 'int' }) downlinkKbps!: number;
  @Column({ type: 'jsonb' }) windows!: ReceiveWindow[];
  @Column({ type: 'text' }) timezone!: string;
  @Column({ name: 'monthly_cap_mb', type: 'int', nullable: true }) monthlyCapMb!: number | null;
  @Column({ name: 'broadcast_receiver', type: 'boolean' }) broadcastReceiver!: boolean;
  @Column({ name: 'storage_capacity_mb', type: 'int' }) storageCapacityMb!: number;
  @Column({ name: 'max_video_height', type: 'int' }) maxVideoHeight!: number;
  @Column({ name: 'video_codecs', type: 'text', array: true }) videoCodecs!: string[];
  @Column({ name: 'image_formats', type: 'text', array: true }) imageFormats!: string[];
  @Column({ name: 'search_text', type: 'text' }) searchText!: string;
  /** Grows whenever what the school should hold changes; terminals' manifests follow it. */
  @Column({ name: 'need_version', type: 'bigint', transformer: bigintNumber }) needVersion!: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}

@Entity('school_gap')
export class SchoolGap {
  @PrimaryColumn({ name: 'school_id', type: 'uuid' }) schoolId!: string;
  @PrimaryColumn({ type: 'text' }) subject!: string;
  @PrimaryColumn({ type: 'int' }) grade!: number;
}

@Entity('terminal')
export class Terminal {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'school_id', type: 'uuid' }) schoolId!: string;
  @Column({ type: 'text' }) name!: string;
  @Column({ name: 'token_hash', type: 'bytea' }) tokenHash!: Buffer;
  @Column({ name: 'agent_version', type: 'text', nullable: true }) agentVersion!: string | null;
  @Column({ name: 'last_seen_at', type: 'timestamptz', nullable: true }) lastSeenAt!: Date | null;
  @Column({ name: 'free_bytes', type: 'bigint', nullable: true, transformer: bigintNumber })
  freeBytes!: number | null;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('enrollment_code')
export class EnrollmentCode {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'school_id', type: 'uuid' }) schoolId!: string;
  @Column({ name: 'code_hash', type: 'bytea' }) codeHash!: Buffer;
  @Column({ name: 'expires_at', type: 'timestamptz' }) expiresAt!: Date;
  @Column({ name: 'used_at', type: 'timestamptz', nullable: true }) usedAt!: Date | null;
  @Column({ name: 'created_by', type: 'uuid', nullable: true }) createdBy!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('school_event')
export class SchoolEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id!: string;
  @Column({ name: 'school_id', type: 'uuid' }) schoolId!: string;
  @Column({ type: 'text' }) kind!: string;
  @Column({ type: 'jsonb' }) detail!: Record<string, unknown>;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'processed_at', type: 'timestamptz', nullable: true }) processedAt!: Date | null;
}
