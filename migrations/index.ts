import { Foundation1764345600000 } from './1764345600000-Foundation';

/** Every migration, in order: the app, the CLI and the test template all run this list. */
export const MIGRATIONS = [Foundation1764345600000];
