/**
 * Console users from a JSON file: [{ name, role, password }], password an scrypt hash.
 * With no file, one admin is made with a random password, returned once so the gateway
 * can print it; only its hash is kept. Delete the file to get a new first password.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hashPassword, isPasswordHash, newPassword } from './passwords.ts';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface ConsoleUser {
  name: string;
  role: Role;
  password: string;
}

/** viewer < operator (event actions, speaker tests) < admin (zones, settings, audit). */
export function allows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export function loadUsers(file: string): { users: ConsoleUser[]; firstPassword: string | null } {
  if (!existsSync(file)) {
    const password = newPassword();
    const users: ConsoleUser[] = [{ name: 'admin', role: 'admin', password: hashPassword(password) }];
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(users, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return { users, firstPassword: password };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`console users file ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new Error(`console users file ${file}: expected a list of { name, role, password }`);
  const seen = new Set<string>();
  const users = raw.map((u: Partial<ConsoleUser>, i) => {
    const at = `console users file ${file}: entry ${i}`;
    if (typeof u?.name !== 'string' || !u.name.trim()) throw new Error(`${at}: name is missing`);
    if (seen.has(u.name)) throw new Error(`${at}: user "${u.name}" appears twice`);
    seen.add(u.name);
    if (!ROLES.includes(u.role as Role)) throw new Error(`${at} (${u.name}): role must be one of ${ROLES.join(', ')}, not "${u.role}"`);
    if (typeof u.password !== 'string' || !isPasswordHash(u.password))
      throw new Error(`${at} (${u.name}): password must be an scrypt hash (make one with: gateway console hash)`);
    return { name: u.name, role: u.role as Role, password: u.password };
  });
  return { users, firstPassword: null };
}
