import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Gap matching writes millions of assignment rows at national scale, and PostgreSQL checks every
 * foreign key of every row one by one. Courses and users are never deleted (users are disabled)
 * and every writer of assignment takes the course and the creator from rows it has just read,
 * so those two checks guard nothing, yet they cost about a third of the writing. The school
 * (ON DELETE CASCADE) and lesson keys stay.
 */
export class AssignmentBulkWrites1764700000000 implements MigrationInterface {
  name = 'AssignmentBulkWrites1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE assignment
        DROP CONSTRAINT IF EXISTS assignment_course_id_fkey,
        DROP CONSTRAINT IF EXISTS assignment_created_by_fkey`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE assignment
        ADD CONSTRAINT assignment_course_id_fkey FOREIGN KEY (course_id) REFERENCES course(id),
        ADD CONSTRAINT assignment_created_by_fkey FOREIGN KEY (created_by) REFERENCES app_user(id)`);
  }
}
