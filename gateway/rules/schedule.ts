/**
 * When a zone's rules run. A technician writes windows in the site's time zone:
 *
 *   schedule:
 *     active:   [{ days: [mon, tue, wed, thu, fri], from: '07:00', to: '19:00' }]
 *     inactive: [{ dates: ['2025-10-01', '2025-10-02'] }]
 *
 * A rule runs when the time is inside any `active` window (no list: always) and inside no
 * `inactive` window. A window may wrap midnight (22:00-02:00); it then belongs to the day
 * it starts on, so `days: [fri], from: '22:00', to: '02:00'` covers Friday night into
 * Saturday. `dates` name calendar days (public holidays, make-up working days).
 */

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Day = (typeof DAYS)[number];

export interface TimeWindowSpec {
  days?: readonly Day[];
  dates?: readonly string[];
  from?: string;
  to?: string;
}

export interface ScheduleSpec {
  active?: readonly TimeWindowSpec[];
  inactive?: readonly TimeWindowSpec[];
}

interface Window {
  days: Set<Day> | null;
  dates: Set<string> | null;
  from: number;
  to: number;
}

interface LocalTime {
  /** YYYY-MM-DD */
  date: string;
  day: Day;
  minutes: number;
  /** The day before, for windows that wrap midnight. */
  prevDate: string;
  prevDay: Day;
}

export const clockMinutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function compile(w: TimeWindowSpec): Window {
  return {
    days: w.days ? new Set(w.days) : null,
    dates: w.dates ? new Set(w.dates) : null,
    from: clockMinutes(w.from ?? '00:00'),
    to: clockMinutes(w.to ?? '24:00'),
  };
}

const onDay = (w: Window, date: string, day: Day) => (!w.days || w.days.has(day)) && (!w.dates || w.dates.has(date));

function inside(w: Window, t: LocalTime): boolean {
  if (w.from === w.to) return false;
  if (w.from < w.to) return onDay(w, t.date, t.day) && t.minutes >= w.from && t.minutes < w.to;
  // Wraps midnight: the evening part today, or the early-morning part of yesterday's window.
  return (onDay(w, t.date, t.day) && t.minutes >= w.from) || (onDay(w, t.prevDate, t.prevDay) && t.minutes < w.to);
}

/** A compiled schedule. Answers are cached per local minute: rules ask on every frame. */
export class Schedule {
  private readonly active: Window[] | null;
  private readonly inactive: Window[];
  private readonly fmt: Intl.DateTimeFormat;
  private cacheMinute = NaN;
  private cached = true;

  constructor(spec: ScheduleSpec, timeZone: string) {
    this.active = spec.active ? spec.active.map(compile) : null;
    this.inactive = (spec.inactive ?? []).map(compile);
    this.fmt = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  }

  /** True when the rules run at `at` (ms since the epoch). */
  isActive(at: number): boolean {
    const minute = Math.floor(at / 60_000);
    if (minute === this.cacheMinute) return this.cached;
    const t = this.local(at);
    this.cached = (!this.active || this.active.some((w) => inside(w, t))) && !this.inactive.some((w) => inside(w, t));
    this.cacheMinute = minute;
    return this.cached;
  }

  private parts(at: number): { date: string; day: Day; minutes: number } {
    const p = Object.fromEntries(this.fmt.formatToParts(new Date(at)).map((x) => [x.type, x.value]));
    return {
      date: `${p.year}-${p.month}-${p.day}`,
      day: p.weekday.slice(0, 3).toLowerCase() as Day,
      minutes: Number(p.hour) * 60 + Number(p.minute),
    };
  }

  private local(at: number): LocalTime {
    const now = this.parts(at);
    // Yesterday's calendar day: local midnight minus one minute (right across DST changes).
    const prev = this.parts(at - (now.minutes + 1) * 60_000);
    return { ...now, prevDate: prev.date, prevDay: prev.day };
  }
}

/** Always active: zones without a schedule. */
export const ALWAYS = { isActive: (_at: number) => true };
export type ActiveCheck = { isActive(at: number): boolean };
