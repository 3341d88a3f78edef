import {
  Column,
  CreateDateColumn,
  Entity,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { bigintNumber } from '../../database/columns';

export type LessonStatus = 'active' | 'retired';
export type VersionState = 'draft' | 'published' | 'retired';

@Entity('blob')
export class Blob {
  @PrimaryColumn({ type: 'char', length: 64 }) sha256!: string;
  @Column({ type: 'bigint', transformer: bigintNumber }) size!: number;
  @Column({ name: 'media_type', type: 'text' }) mediaType!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('lesson')
export class Lesson {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'bureau_id', type: 'uuid' }) bureauId!: string;
  @Column({ type: 'text' }) title!: string;
  @Column({ type: 'text', nullable: true }) description!: string | null;
  @Column({ type: 'text' }) subject!: string;
  @Column({ type: 'int', array: true }) grades!: number[];
  @Column({ type: 'text' }) language!: string;
  @Column({ name: 'curriculum_code', type: 'text', nullable: true }) curriculumCode!: string | null;
  @Column({ name: 'textbook_edition', type: 'text', nullable: true }) textbookEdition!:
    string | null;
  @Column({ name: 'duration_minutes', type: 'int', nullable: true }) durationMinutes!:
    number | null;
  @Column({ type: 'text', array: true, default: () => "'{}'" }) tags!: string[];
  @Column({ name: 'teacherless_ready', type: 'boolean', default: false })
  teacherlessReady!: boolean;
  @Column({ type: 'text', default: 'active' }) status!: LessonStatus;
  @Column({ name: 'draft_version', type: 'int' }) draftVersion!: number;
  @Column({ name: 'published_version', type: 'int', nullable: true }) publishedVersion!:
    number | null;
  /** Lower-cased title, description and tags: what full-text and trigram search look at. */
  @Column({ name: 'search_text', type: 'text' }) searchText!: string;
  /** CJK characters and pairs of the text: short Chinese queries, which trigrams cannot serve. */
  @Column({ name: 'search_grams', type: 'text', array: true }) searchGrams!: string[];
  @Column({ name: 'created_by', type: 'uuid', nullable: true }) createdBy!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true }) retiredAt!: Date | null;
}

@Entity('lesson_version')
export class LessonVersion {
  @PrimaryColumn({ name: 'lesson_id', type: 'uuid' }) lessonId!: string;
  @PrimaryColumn({ type: 'int' }) version!: number;
  @Column({ type: 'text' }) state!: VersionState;
  @Column({ name: 'published_at', type: 'timestamptz', nullable: true }) publishedAt!: Date | null;
  @Column({ name: 'published_by', type: 'uuid', nullable: true }) publishedBy!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('lesson_file')
export class LessonFile {
  @PrimaryColumn({ name: 'lesson_id', type: 'uuid' }) lessonId!: string;
  @PrimaryColumn({ type: 'int' }) version!: number;
  @PrimaryColumn({ type: 'text' }) path!: string;
  @Column({ name: 'blob_sha256', type: 'char', length: 64 }) blobSha256!: string;
  @Column({ type: 'bigint', transformer: bigintNumber }) size!: number;
  @Column({ name: 'media_type', type: 'text' }) mediaType!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

@Entity('course')
export class Course {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ type: 'text' }) title!: string;
  @Column({ type: 'text' }) subject!: string;
  @Column({ type: 'int' }) grade!: number;
  @Column({ name: 'bureau_id', type: 'uuid', nullable: true }) bureauId!: string | null;
  @Column({ name: 'lesson_ids', type: 'uuid', array: true }) lessonIds!: string[];
  @Column({ name: 'created_by', type: 'uuid', nullable: true }) createdBy!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}

/** Bookkeeping for a resumable (tus) upload: who may touch it and where it lands. */
@Entity('upload')
export class Upload {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ name: 'user_id', type: 'uuid' }) userId!: string;
  @Column({ name: 'lesson_id', type: 'uuid' }) lessonId!: string;
  @Column({ name: 'bureau_id', type: 'uuid' }) bureauId!: string;
  @Column({ type: 'text' }) path!: string;
  @Column({ type: 'text', nullable: true }) filename!: string | null;
  @Column({ type: 'bigint', transformer: bigintNumber, nullable: true }) size!: number | null;
  @Column({ name: 'expected_sha256', type: 'text', nullable: true }) expectedSha256!: string | null;
  @Column({ type: 'text', default: 'receiving' }) state!: 'receiving' | 'completed';
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt!: Date;
}
