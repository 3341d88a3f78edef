import { ValidationError, ValidationPipe } from '@nestjs/common';
import { AppError, FieldDetail } from '../errors/app-error';

function flatten(errors: ValidationError[], parent = ''): FieldDetail[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/** Whitelisting validation: unknown fields and wrong types answer 422 with per-field details. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) =>
      new AppError('validation_failed', 'Some fields are invalid; see details', flatten(errors)),
  });
}
