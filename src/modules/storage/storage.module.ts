import {
  Module,
  type DynamicModule,
  type FactoryProvider,
  type ModuleMetadata,
} from '@nestjs/common';
import { StorageService } from './storage.service';
import { STORAGE_OPTIONS, type StorageOptions } from './storage.options';

export interface StorageModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  // never[] accepts a factory with any typed parameters (contravariance) without an `any`.
  useFactory: (...deps: never[]) => StorageOptions | Promise<StorageOptions>;
  inject?: FactoryProvider['inject'];
}

/** Global: every feature that stores or serves bytes needs it, and there is one store per process. */
@Module({})
export class StorageModule {
  static forRoot(options: StorageOptions): DynamicModule {
    return {
      module: StorageModule,
      global: true,
      providers: [{ provide: STORAGE_OPTIONS, useValue: options }, StorageService],
      exports: [StorageService],
    };
  }

  static forRootAsync(options: StorageModuleAsyncOptions): DynamicModule {
    return {
      module: StorageModule,
      global: true,
      imports: options.imports ?? [],
      providers: [
        {
          provide: STORAGE_OPTIONS,
          useFactory: options.useFactory as (
            ...deps: unknown[]
          ) => StorageOptions | Promise<StorageOptions>,
          inject: options.inject ?? [],
        },
        StorageService,
      ],
      exports: [StorageService],
    };
  }
}
