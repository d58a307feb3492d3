/** Plane geometry on normalised image coordinates, and great-circle distance. */
import { describe, expect, it } from 'vitest';
import {
  boxArea,
  centre,
  footPoint,
  haversineM,
  iou,
  pointInPolygon,
  polygonArea,
  segmentsIntersect,
  selfIntersection,
  type Box,
  type Pt,
} from '../../gateway/zones/geometry.ts';

const square: Pt[] = [
  [0.2, 0.2],
  [0.8, 0.2],
  [0.8, 0.8],
  [0.2, 0.8],
];
// A "U" shape: concave, the notch (0.4..0.6 x 0.2..0.7) is outside.
const U: Pt[] = [
  [0.1, 0.1],
  [0.4, 0.1],
  [0.4, 0.7],
  [0.6, 0.7],
  [0.6, 0.1],
  [0.9, 0.1],
  [0.9, 0.9],
  [0.1, 0.9],
];

describe('pointInPolygon', () => {
  it('inside and outside a square', () => {
    expect(pointInPolygon(0.5, 0.5, square)).toBe(true);
    expect(pointInPolygon(0.21, 0.79, square)).toBe(true);
    expect(pointInPolygon(0.1, 0.5, square)).toBe(false);
    expect(pointInPolygon(0.5, 0.9, square)).toBe(false);
    expect(pointInPolygon(0.9, 0.9, square)).toBe(false);
  });

  it('respects concavity', () => {
    expect(pointInPolygon(0.5, 0.3, U)).toBe(false); // in the notch
    expect(pointInPolygon(0.5, 0.8, U)).toBe(true); // below the notch
    expect(pointInPolygon(0.2, 0.3, U)).toBe(true); // left arm
    expect(pointInPolygon(0.8, 0.3, U)).toBe(true); // right arm
  });

  it('does not depend on the winding direction', () => {
    const rev = [...U].reverse();
    for (const [x, y] of [
      [0.5, 0.3],
      [0.5, 0.8],
      [0.2, 0.3],
      [0.95, 0.5],
    ] as const)
      expect(pointInPolygon(x, y, rev)).toBe(pointInPolygon(x, y, U));
  });

  it('a triangle', () => {
    const t: Pt[] = [
      [0, 0],
      [1, 0],
      [0, 1],
    ];
    expect(pointInPolygon(0.2, 0.2, t)).toBe(true);
    expect(pointInPolygon(0.6, 0.6, t)).toBe(false);
  });
});

describe('polygonArea', () => {
  it('square, triangle, concave, either winding', () => {
    expect(polygonArea(square)).toBeCloseTo(0.36, 12);
    expect(
      polygonArea([
        [0, 0],
        [1, 0],
        [0, 1],
      ]),
    ).toBeCloseTo(0.5, 12);
    expect(polygonArea(U)).toBeCloseTo(0.8 * 0.8 - 0.2 * 0.6, 12);
    expect(polygonArea([...U].reverse())).toBeCloseTo(polygonArea(U), 12);
  });

  it('collinear points have no area', () => {
    expect(
      polygonArea([
        [0.1, 0.1],
        [0.5, 0.5],
        [0.9, 0.9],
      ]),
    ).toBeCloseTo(0, 12);
  });
});

describe('selfIntersection', () => {
  it('a simple polygon has none', () => {
    expect(selfIntersection(square)).toBeNull();
    expect(selfIntersection(U)).toBeNull();
    expect(
      selfIntersection([
        [0, 0],
        [1, 0],
        [0, 1],
      ]),
    ).toBeNull();
  });

  it('a bow-tie crosses: edges 0 and 2', () => {
    // (0.2,0.2)->(0.8,0.8) crosses (0.8,0.2)->(0.2,0.8)
    expect(
      selfIntersection([
        [0.2, 0.2],
        [0.8, 0.8],
        [0.8, 0.2],
        [0.2, 0.8],
      ]),
    ).toEqual([0, 2]);
  });

  it('a crossing involving the closing edge is found', () => {
    // Only edge 4 (the last point back to the first) crosses edge 1, at (0.5, 0.15).
    const p: Pt[] = [
      [0.1, 0.1],
      [0.5, 0.1],
      [0.5, 0.5],
      [0.9, 0.5],
      [0.9, 0.2],
    ];
    expect(selfIntersection(p)).toEqual([1, 4]);
  });

  it('a pentagram crosses itself', () => {
    const star: Pt[] = [0, 2, 4, 1, 3].map(
      (k) => [0.5 + 0.4 * Math.cos((k * 2 * Math.PI) / 5), 0.5 + 0.4 * Math.sin((k * 2 * Math.PI) / 5)] as Pt,
    );
    expect(selfIntersection(star)).not.toBeNull();
  });

  it('segmentsIntersect: touching, collinear overlap and apart', () => {
    expect(segmentsIntersect([0, 0], [1, 1], [0, 1], [1, 0])).toBe(true);
    expect(segmentsIntersect([0, 0], [1, 0], [0.5, 0], [0.5, 1])).toBe(true); // T-touch
    expect(segmentsIntersect([0, 0], [1, 0], [0.5, 0], [2, 0])).toBe(true); // overlap
    expect(segmentsIntersect([0, 0], [1, 0], [2, 0], [3, 0])).toBe(false); // collinear, apart
    expect(segmentsIntersect([0, 0], [1, 0], [0, 1], [1, 1])).toBe(false); // parallel
  });
});

describe('boxes', () => {
  const a: Box = [0, 0, 0.4, 0.4];
  it('iou of identical, disjoint, half-overlapping and contained boxes', () => {
    expect(iou(a, a)).toBeCloseTo(1, 12);
    expect(iou(a, [0.5, 0.5, 0.9, 0.9])).toBe(0);
    expect(iou(a, [0.4, 0, 0.8, 0.4])).toBe(0); // touching edges
    // Shifted by half a width: overlap 0.2*0.4, union 2*0.16-0.08
    expect(iou(a, [0.2, 0, 0.6, 0.4])).toBeCloseTo(0.08 / 0.24, 12);
    expect(iou(a, [0.1, 0.1, 0.3, 0.3])).toBeCloseTo(0.04 / 0.16, 12);
    expect(iou([0.2, 0, 0.6, 0.4], a)).toBeCloseTo(iou(a, [0.2, 0, 0.6, 0.4]), 12);
  });

  it('iou of degenerate boxes is 0, not NaN', () => {
    expect(iou([0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5])).toBe(0);
  });

  it('footPoint is the bottom-centre, centre the middle', () => {
    expect(footPoint([0.2, 0.1, 0.4, 0.5])).toEqual([0.30000000000000004, 0.5]);
    expect(centre([0.2, 0.1, 0.4, 0.5])[1]).toBeCloseTo(0.3, 12);
    expect(boxArea([0.2, 0.1, 0.4, 0.5])).toBeCloseTo(0.08, 12);
    expect(boxArea([0.4, 0.1, 0.2, 0.5])).toBe(0);
  });
});

describe('haversineM', () => {
  it('one degree of latitude is about 111.2 km', () => {
    expect(haversineM(0, 0, 1, 0)).toBeCloseTo(111_195, -1);
  });

  it("Beijing (Tiananmen) to Shanghai (People's Square) is about 1,067 km", () => {
    const d = haversineM(39.9042, 116.4074, 31.2304, 121.4737);
    expect(d).toBeGreaterThan(1_060_000);
    expect(d).toBeLessThan(1_075_000);
  });

  it('zero for the same point, symmetric, and small distances in metres', () => {
    expect(haversineM(28.7712, 118.5553, 28.7712, 118.5553)).toBe(0);
    const ab = haversineM(28.7712, 118.5553, 28.7722, 118.5563);
    expect(ab).toBeCloseTo(haversineM(28.7722, 118.5563, 28.7712, 118.5553), 6);
    // 0.001 deg lat = 111.2 m; 0.001 deg lon at 28.77 deg = 97.5 m
    expect(ab).toBeGreaterThan(145);
    expect(ab).toBeLessThan(150);
  });

  it('antipodes are half the circumference', () => {
    expect(haversineM(0, 0, 0, 180)).toBeCloseTo(Math.PI * 6371008.8, 0);
  });
});
