import { Foundation1764345600000 } from './1764345600000-Foundation';
import { Schools1764432000000 } from './1764432000000-Schools';
import { SigningKeys1764518400000 } from './1764518400000-SigningKeys';
import { Packaging1764604800000 } from './1764604800000-Packaging';
import { Delivery1764800000000 } from './1764800000000-Delivery';
import { Coverage1764900000000 } from './1764900000000-Coverage';
import { Broadcast1765000000000 } from './1765000000000-Broadcast';

/** Every migration, in order: the app, the CLI and the test template all run this list. */
export const MIGRATIONS = [
  Foundation1764345600000,
  Schools1764432000000,
  SigningKeys1764518400000,
  Packaging1764604800000,
  Delivery1764800000000,
  Coverage1764900000000,
  Broadcast1765000000000,
];
