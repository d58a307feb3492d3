/** Inference threads and spinning follow the box's load unless the settings say. */
import { describe, expect, it } from 'vitest';
import { MANY_CAMERAS, threading } from '../../gateway/detect/threading.ts';

describe('detector threading defaults', () => {
  it('gives a few cameras two spinning threads, many cameras one sleeping thread', () => {
    expect(threading({}, 1)).toEqual({ threads: 2, spin: true });
    expect(threading({}, MANY_CAMERAS)).toEqual({ threads: 2, spin: true });
    expect(threading({}, MANY_CAMERAS + 1)).toEqual({ threads: 1, spin: false });
    expect(threading({}, 134)).toEqual({ threads: 1, spin: false });
  });

  it('keeps what the settings say', () => {
    expect(threading({ threads: 4 }, 134)).toEqual({ threads: 4, spin: false });
    expect(threading({ spin: true }, 134)).toEqual({ threads: 1, spin: true });
    expect(threading({ threads: 1, spin: false }, 2)).toEqual({ threads: 1, spin: false });
  });
});
