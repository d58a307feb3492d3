/** Picture links expire: the token carries its expiry, signed with the event id. */
import { describe, expect, it } from 'vitest';
import { PICTURE_LINK_TTL_MS, pictureToken, pictureTokenValid } from '../../gateway/http/tokens.ts';

const SECRET = 'a-long-enough-api-token-0123456789';
const T = Date.parse('2026-12-05T10:00:00Z');

describe('picture tokens', () => {
  it('open their picture until they expire, and no other picture', () => {
    const t = pictureToken(SECRET, 'E1', T);
    expect(pictureTokenValid(SECRET, 'E1', t, T + PICTURE_LINK_TTL_MS - 1000)).toBe(true);
    expect(pictureTokenValid(SECRET, 'E1', t, T + PICTURE_LINK_TTL_MS + 1000)).toBe(false);
    expect(pictureTokenValid(SECRET, 'E2', t, T)).toBe(false);
  });

  it('cannot be extended by editing the expiry, nor be the old unexpiring form', () => {
    const t = pictureToken(SECRET, 'E1', T);
    const [exp, mac] = t.split('.');
    const later = (Number.parseInt(exp, 36) + 86_400 * 365).toString(36);
    expect(pictureTokenValid(SECRET, 'E1', `${later}.${mac}`, T)).toBe(false);
    expect(pictureTokenValid(SECRET, 'E1', mac, T)).toBe(false);
  });
});
