import { TerminalTokenCache } from './terminal-token-cache';
import { Module } from '@nestjs/common';
import { SchoolImportService } from './school-import.service';
import { SchoolEventsService } from './school-events.service';
import { SchoolsController } from './schools.controller';
import { SchoolsRepository } from './schools.repository';
import { SchoolsService } from './schools.service';
import { SyncEnrollController } from './sync-enroll.controller';
import { TerminalGuard } from './terminal.guard';
import { TerminalsService } from './terminals.service';

/** Schools, teacher gaps, CSV import, terminals and enrollment: services for every role. */
@Module({
  providers: [
    SchoolsRepository,
    SchoolsService,
    SchoolEventsService,
    SchoolImportService,
    TerminalsService,
    TerminalGuard,
    TerminalTokenCache,
  ],
  exports: [
    SchoolsService,
    SchoolEventsService,
    SchoolImportService,
    TerminalsService,
    TerminalGuard,
    SchoolsRepository,
  ],
})
export class SchoolsCoreModule {}

@Module({
  imports: [SchoolsCoreModule],
  controllers: [SchoolsController, SyncEnrollController],
})
export class SchoolsApiModule {}
