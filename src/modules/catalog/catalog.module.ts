import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Course, Lesson, LessonFile, LessonVersion, Upload } from './catalog.entities';
import { CoursesService } from './courses.service';
import { IngestService } from './ingest.service';
import { LessonsController } from './lessons.controller';
import { LessonsRepository } from './lessons.repository';
import { LessonsService } from './lessons.service';
import { TusService } from './tus.service';
import { UploadExpiryService } from './upload-expiry.service';
import { UploadsController } from './uploads.controller';
import { UploadsRepository } from './uploads.repository';

/** Lessons, versions, files, courses and uploads: the services every role needs. */
@Module({
  imports: [TypeOrmModule.forFeature([Lesson, LessonVersion, LessonFile, Course, Upload])],
  providers: [
    LessonsRepository,
    LessonsService,
    IngestService,
    CoursesService,
    UploadsRepository,
    TusService,
    UploadExpiryService,
  ],
  exports: [LessonsService, IngestService, CoursesService, TusService, UploadExpiryService],
})
export class CatalogCoreModule {}

@Module({
  imports: [CatalogCoreModule],
  controllers: [LessonsController, UploadsController],
})
export class CatalogApiModule {}
