import { UserRole } from './user.entity';

/** Who is calling: a person (from a login token). Terminals get their own principal later. */
export interface Principal {
  kind: 'user';
  id: string;
  email: string;
  role: UserRole;
  bureauId: string | null;
  regionId: string | null;
}

export const isAdmin = (p: Principal): boolean => p.role === 'admin';
