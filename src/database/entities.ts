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
];
