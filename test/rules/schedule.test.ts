/** Zone schedules: windows by weekday or date, wrapping midnight, in the site's time zone. */
import { describe, expect, it } from 'vitest';
import { Schedule } from '../../gateway/rules/schedule.ts';

const SH = 'Asia/Shanghai';
/** A local time in Shanghai (UTC+8, no daylight saving). */
const at = (local: string) => Date.parse(`${local}+08:00`);

describe('Schedule', () => {
  it('working days 07:00-19:00', () => {
    const s = new Schedule({ active: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '07:00', to: '19:00' }] }, SH);
    expect(s.isActive(at('2025-06-03T06:59:59'))).toBe(false); // Tuesday
    expect(s.isActive(at('2025-06-03T07:00:00'))).toBe(true);
    expect(s.isActive(at('2025-06-03T18:59:59'))).toBe(true);
    expect(s.isActive(at('2025-06-03T19:00:00'))).toBe(false);
    expect(s.isActive(at('2025-06-07T10:00:00'))).toBe(false); // Saturday
    expect(s.isActive(at('2025-06-08T10:00:00'))).toBe(false); // Sunday
  });

  it('tolerated hours: inactive 18:00-22:00, active otherwise', () => {
    const s = new Schedule({ inactive: [{ from: '18:00', to: '22:00' }] }, SH);
    expect(s.isActive(at('2025-06-03T17:59:00'))).toBe(true);
    expect(s.isActive(at('2025-06-03T18:00:00'))).toBe(false);
    expect(s.isActive(at('2025-06-03T21:59:00'))).toBe(false);
    expect(s.isActive(at('2025-06-03T22:00:00'))).toBe(true);
  });

  it('a window that wraps midnight belongs to the day it starts on', () => {
    const s = new Schedule({ active: [{ days: ['fri'], from: '22:00', to: '02:00' }] }, SH);
    expect(s.isActive(at('2025-06-06T23:30:00'))).toBe(true); // Friday night
    expect(s.isActive(at('2025-06-07T01:30:00'))).toBe(true); // early Saturday, still Friday's window
    expect(s.isActive(at('2025-06-07T02:00:00'))).toBe(false);
    expect(s.isActive(at('2025-06-07T23:30:00'))).toBe(false); // Saturday night
    expect(s.isActive(at('2025-06-06T01:30:00'))).toBe(false); // early Friday belongs to Thursday
  });

  it('holidays and make-up working days by date; inactive wins over active', () => {
    const s = new Schedule(
      {
        active: [
          { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '07:00', to: '19:00' },
          { dates: ['2025-09-28'], from: '07:00', to: '19:00' },
        ],
        inactive: [{ dates: ['2025-10-01', '2025-10-02'] }],
      },
      SH,
    );
    expect(s.isActive(at('2025-09-28T10:00:00'))).toBe(true); // a Sunday worked in lieu
    expect(s.isActive(at('2025-10-01T10:00:00'))).toBe(false); // National Day, a Wednesday
    expect(s.isActive(at('2025-10-03T10:00:00'))).toBe(true); // Friday
  });

  it('from and to default to the whole day; an empty window never matches', () => {
    expect(new Schedule({ active: [{ days: ['tue'] }] }, SH).isActive(at('2025-06-03T23:59:00'))).toBe(true);
    expect(new Schedule({ active: [{ from: '08:00', to: '08:00' }] }, SH).isActive(at('2025-06-03T08:00:00'))).toBe(false);
  });

  it('is evaluated in the site time zone, across a daylight-saving change', () => {
    // Berlin moves from 02:00 to 03:00 on Sunday 30 March 2025; yesterday is still Saturday.
    const s = new Schedule({ active: [{ days: ['sat'], from: '23:00', to: '04:00' }] }, 'Europe/Berlin');
    expect(s.isActive(Date.parse('2025-03-30T01:30:00Z'))).toBe(true); // 03:30 CEST, Saturday's window
    expect(s.isActive(Date.parse('2025-03-30T02:30:00Z'))).toBe(false); // 04:30 CEST
    expect(new Schedule({ active: [{ from: '09:00', to: '10:00' }] }, 'UTC').isActive(at('2025-06-03T09:30:00'))).toBe(false);
  });

  it('answers from its per-minute cache consistently', () => {
    const s = new Schedule({ active: [{ from: '07:00', to: '19:00' }] }, SH);
    const t = at('2025-06-03T18:59:00');
    expect(s.isActive(t)).toBe(true);
    expect(s.isActive(t + 59_000)).toBe(true);
    expect(s.isActive(t + 60_000)).toBe(false);
    expect(s.isActive(t)).toBe(true);
  });
});
