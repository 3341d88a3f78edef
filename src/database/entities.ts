import { User } from '../modules/auth/user.entity';
import {
  Blob,
  Course,
  Lesson,
  LessonFile,
  LessonVersion,
  Upload,
} from '../modules/catalog/catalog.entities';
import { Bureau, Region } from '../modules/regions/region.entity';
import { JobRecord } from '../jobs/job-record.entity';
import { Assignment, Holding, MatchProposal } from '../modules/assignments/assignment.entities';
import {
  EnrollmentCode,
  School,
  SchoolEvent,
  SchoolGap,
  Terminal,
} from '../modules/schools/school.entities';

import { SigningKey } from '../modules/signing/signing-key.entity';
import { Bundle, Rendition } from '../modules/packaging/packaging.entities';

export const ENTITIES = [
  Region,
  Bureau,
  User,
  JobRecord,
  Blob,
  Lesson,
  LessonVersion,
  LessonFile,
  Course,
  Upload,
  School,
  SchoolGap,
  Terminal,
  EnrollmentCode,
  SchoolEvent,
  Assignment,
  Holding,
  MatchProposal,
  SigningKey,
  Rendition,
  Bundle,
];
