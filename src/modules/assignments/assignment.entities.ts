import { Column, CreateDateColumn, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from '../../database/columns';

export type AssignmentSource = 'manual' | 'gap-match';

@Entity('assignment')
export class Assignment {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column({ name: 'school_id', type: 'uuid' }) schoolId!: string;
  @Column({ name: 'lesson_id', type: 'uuid' }) lessonId!: string;
  @Column({ name: 'course_id', type: 'uuid', nullable: true }) courseId!: string | null;
  @Column({ type: 'text' }) source!: AssignmentSource;
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  @Column({ type: 'real', nullable: true }) score!: number | null;
  @Column({ name: 'due_date', type: 'date', nullable: true }) dueDate!: string | null;
  @Column({ type: 'int' }) priority!: number;
  @Column({ name: 'created_by', type: 'uuid', nullable: true }) createdBy!: string | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true }) revokedAt!: Date | null;
}

/** What a school's terminal has confirmed it holds. */
@Entity('holding')
export class Holding {
  @PrimaryColumn({ name: 'school_id', type: 'uuid' }) schoolId!: string;
  @PrimaryColumn({ name: 'lesson_id', type: 'uuid' }) lessonId!: string;
  @Column({ type: 'int' }) version!: number;
  @Column({ type: 'bigint', transformer: bigintNumber }) bytes!: number;
  @Column({ name: 'confirmed_at', type: 'timestamptz' }) confirmedAt!: Date;
}

@Entity('match_proposal')
export class MatchProposal {
  @PrimaryColumn({ name: 'job_id', type: 'text' }) jobId!: string;
  @PrimaryColumn({ type: 'int' }) seq!: number;
  @Column({ name: 'school_id', type: 'uuid' }) schoolId!: string;
  @Column({ type: 'text' }) subject!: string;
  @Column({ type: 'int' }) grade!: number;
  @Column({ name: 'lesson_id', type: 'uuid', nullable: true }) lessonId!: string | null;
  @Column({ name: 'course_id', type: 'uuid', nullable: true }) courseId!: string | null;
  @Column({ type: 'real' }) score!: number;
  @Column({ type: 'text' }) reason!: string;
}
