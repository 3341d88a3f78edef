import { ValidationOptions, registerDecorator } from 'class-validator';

export const SUBJECTS = [
  'chinese',
  'math',
  'english',
  'music',
  'art',
  'pe',
  'science',
  'ethics',
  'it',
  'labour',
  'calligraphy',
  'other',
] as const;

const CUSTOM_SUBJECT = /^x-[a-z0-9][a-z0-9-]{0,31}$/;

export function isSubject(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    ((SUBJECTS as readonly string[]).includes(value) || CUSTOM_SUBJECT.test(value))
  );
}

/** A BCP 47 tag in canonical form ("zh-cn" -> "zh-CN"), or null when it is not well-formed. */
export function canonicalLanguage(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 35) return null;
  try {
    const [canonical] = Intl.getCanonicalLocales(value);
    return canonical ?? null;
  } catch {
    return null;
  }
}

export function IsSubject(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isSubject',
      target: object.constructor,
      propertyName,
      options: {
        message: `${propertyName} must be one of ${SUBJECTS.join(', ')} or x-<code>`,
        ...options,
      },
      validator: { validate: (value: unknown) => isSubject(value) },
    });
}

export function IsLanguageTag(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isLanguageTag',
      target: object.constructor,
      propertyName,
      options: {
        message: `${propertyName} must be a BCP 47 language tag such as zh-CN`,
        ...options,
      },
      validator: { validate: (value: unknown) => canonicalLanguage(value) !== null },
    });
}
