/**
 * The 12 kinds of enforcement matter the township watches (MISSION.md). Each entry is a
 * default; every value can be overridden per zone in the config. Classes name the shared
 * label vocabulary (COCO names plus the custom classes users' models bring).
 */
export const VIOLATION_TYPES = [
  'illegal_parking',
  'street_vending',
  'mobile_vendor',
  'out_of_store_business',
  'non_motor_parking',
  'garbage_exposure',
  'material_stacking',
  'illegal_advertising',
  'street_drying',
  'river_floating_debris',
  'river_intrusion',
  'open_burning',
] as const;

export type ViolationType = (typeof VIOLATION_TYPES)[number];

export type Anchor = 'foot' | 'centre' | 'box';
export const ANCHORS: readonly Anchor[] = ['foot', 'centre', 'box'];

export interface ViolationDefaults {
  zh: string;
  /** What counts, in words (README, console). */
  what: string;
  /** Detector classes that count as evidence. */
  classes: string[];
  /** Objects needed at once (bicycles for non-motor parking). */
  minCount: number;
  dwellS: number;
  /** Time between the warning and the recheck. */
  graceS: number;
  /** After an event at a spot, the same spot cannot fire again for this long. */
  cooldownS: number;
  /** Smallest box, as a share of the frame's area, that counts (filters far-away noise). */
  minArea: number;
  /** The object must be stationary (parking, stalls) rather than merely present. */
  stationary: boolean;
  /**
   * Compound rules: a person must be this near the evidence, in multiples of the
   * evidence's box size (0: touching or overlapping); null when no person is needed.
   */
  personWithin: number | null;
  /**
   * Which part of a thing must be in the zone: its foot (the bottom-centre of its box,
   * where it stands), its centre, or its box (at least a quarter of it: a stall umbrella's
   * canopy hangs above the pavement it occupies).
   */
  anchor: Anchor;
  /**
   * Things next to one already reported (within one box size) are part of the same matter
   * and stay quiet: a stall's second umbrella, the smoke over a fire, a pile that grows.
   * Not for parked vehicles or carts: each of those is its own matter.
   */
  cluster: boolean;
  /** Default spoken warning (Mandarin, polite and lawful). */
  message: string;
  /** The repeat, firmer but still lawful, played when the matter is still there. */
  firm: string;
}

const VEHICLES = ['car', 'truck', 'bus', 'motorcycle'];

/**
 * The label of the model-free static-change detector: a region of a zone that differs
 * from the learned clean reference and has stayed so. Types whose evidence has no COCO
 * class (garbage, debris, floating debris) accept it by default; others when a zone's
 * classes name it (a shop front, where people and light change all day, opts in).
 */
export const STATIC_CHANGE = 'static_change';

export const CATALOGUE: Record<ViolationType, ViolationDefaults> = {
  illegal_parking: {
    zh: '违章停车',
    what: 'a motor vehicle standing still in a no-parking zone',
    classes: VEHICLES,
    minCount: 1,
    dwellS: 180,
    graceS: 120,
    cooldownS: 600,
    minArea: 0.002,
    stationary: true,
    personWithin: null,
    anchor: 'foot',
    cluster: false,
    message: '您好，此处禁止停车，请尽快驶离。',
    firm: '请注意，此处禁止停车，请立即驶离，否则将依法处理。',
  },
  street_vending: {
    zh: '占道经营',
    what: 'a stall (umbrella, table, cart or a custom `stall`) standing still with people at it, occupying road or pavement',
    classes: ['umbrella', 'dining table', 'stall', 'vendor_cart'],
    minCount: 1,
    dwellS: 300,
    graceS: 120,
    cooldownS: 1800,
    minArea: 0.002,
    stationary: true,
    personWithin: 1,
    anchor: 'box',
    cluster: true,
    message: '您好，此处禁止占道经营，请将摊位移至指定区域。',
    firm: '请注意，占道经营违反市容管理规定，请立即收摊，否则将依法处理。',
  },
  mobile_vendor: {
    zh: '流动摊贩',
    what: 'a vendor cart, tricycle or bicycle stopped with a person at it to trade',
    classes: ['vendor_cart', 'tricycle', 'bicycle', 'motorcycle'],
    minCount: 1,
    dwellS: 120,
    graceS: 120,
    cooldownS: 1800,
    minArea: 0.002,
    stationary: true,
    personWithin: 0.5,
    anchor: 'foot',
    cluster: false,
    message: '您好，此处禁止流动设摊，请尽快离开。',
    firm: '请注意，此处禁止流动设摊，请立即离开，否则将依法处理。',
  },
  out_of_store_business: {
    zh: '出店经营',
    what: 'tables, chairs, sunshade umbrellas, plants or goods put out in front of a shop (add static_change to its classes to count anything new left standing there)',
    classes: ['chair', 'dining table', 'bench', 'umbrella', 'potted plant', 'goods'],
    minCount: 1,
    dwellS: 300,
    graceS: 120,
    cooldownS: 3600,
    minArea: 0.001,
    stationary: true,
    personWithin: null,
    anchor: 'box',
    cluster: true,
    message: '您好，请勿出店经营，请将物品搬回店内。',
    firm: '请注意，出店经营违反市容管理规定，请立即将物品搬回店内，否则将依法处理。',
  },
  non_motor_parking: {
    zh: '非机动车乱停放',
    what: 'at least N bicycles or e-bikes parked outside the marked area',
    classes: ['bicycle', 'motorcycle'],
    minCount: 3,
    dwellS: 300,
    graceS: 120,
    cooldownS: 1800,
    minArea: 0.0005,
    stationary: true,
    personWithin: null,
    anchor: 'foot',
    cluster: true,
    message: '您好，请将非机动车停放在指定区域内。',
    firm: '请注意，请立即将非机动车移至指定区域，否则将依法处理。',
  },
  garbage_exposure: {
    zh: '暴露垃圾',
    what: 'a garbage pile or an overflowing bin (custom `garbage`, or static change)',
    classes: ['garbage', STATIC_CHANGE],
    minCount: 1,
    dwellS: 600,
    graceS: 1800,
    cooldownS: 3600,
    minArea: 0.001,
    stationary: true,
    personWithin: null,
    anchor: 'foot',
    cluster: true,
    message: '您好，请勿乱扔垃圾，请将垃圾投放到指定地点。',
    firm: '请注意，乱扔垃圾违反环境卫生管理规定，请立即清理，否则将依法处理。',
  },
  material_stacking: {
    zh: '乱堆物料',
    what: 'building material or debris piled on public ground (custom `debris`, or static change)',
    classes: ['debris', STATIC_CHANGE],
    minCount: 1,
    dwellS: 900,
    graceS: 1800,
    cooldownS: 3600,
    minArea: 0.002,
    stationary: true,
    personWithin: null,
    anchor: 'foot',
    cluster: true,
    message: '您好，此处禁止乱堆物料，请尽快清理。',
    firm: '请注意，乱堆物料违反市容管理规定，请立即清理，否则将依法处理。',
  },
  illegal_advertising: {
    zh: '违规广告',
    what: 'banners or signs put up without permission (custom `banner`)',
    classes: ['banner'],
    minCount: 1,
    dwellS: 600,
    graceS: 1800,
    cooldownS: 3600,
    minArea: 0.001,
    stationary: true,
    personWithin: null,
    anchor: 'box',
    cluster: true,
    message: '您好，未经许可禁止设置广告，请尽快拆除。',
    firm: '请注意，擅自设置广告违反相关规定，请立即拆除，否则将依法处理。',
  },
  street_drying: {
    zh: '沿街晾晒',
    what: 'clothes hung out along the street (custom `clothes`)',
    classes: ['clothes'],
    minCount: 1,
    dwellS: 600,
    graceS: 600,
    cooldownS: 3600,
    minArea: 0.001,
    stationary: true,
    personWithin: null,
    anchor: 'box',
    cluster: true,
    message: '您好，请勿沿街晾晒衣物，请尽快收回。',
    firm: '请注意，沿街晾晒影响市容，请立即收回。',
  },
  river_floating_debris: {
    zh: '河道漂浮物',
    what: 'debris floating on a river surface (custom `floating_debris`, or static change)',
    classes: ['floating_debris', STATIC_CHANGE],
    minCount: 1,
    dwellS: 600,
    graceS: 1800,
    cooldownS: 3600,
    minArea: 0.0005,
    stationary: false,
    personWithin: null,
    anchor: 'foot',
    cluster: true,
    message: '河道发现漂浮物，请相关人员及时清理。',
    firm: '请注意，河道漂浮物尚未清理，请相关人员立即处理。',
  },
  river_intrusion: {
    zh: '河道涉水/垂钓',
    what: 'a person or boat in a river danger zone: wading, fishing, swimming',
    classes: ['person', 'boat'],
    minCount: 1,
    dwellS: 20,
    graceS: 60,
    cooldownS: 300,
    minArea: 0.0005,
    stationary: false,
    personWithin: null,
    anchor: 'foot',
    cluster: true,
    message: '您好，您已进入河道危险区域，请立即离开，注意安全。',
    firm: '危险！请立即离开河道区域！',
  },
  open_burning: {
    zh: '露天焚烧',
    what: 'smoke or fire in the open (custom `smoke`, `fire`)',
    classes: ['smoke', 'fire'],
    minCount: 1,
    dwellS: 30,
    graceS: 60,
    cooldownS: 1800,
    minArea: 0.0005,
    stationary: false,
    personWithin: null,
    anchor: 'foot',
    cluster: true,
    message: '您好，此处禁止露天焚烧，请立即熄灭火源。',
    firm: '请注意，露天焚烧违反大气污染防治规定，请立即熄灭火源，否则将依法处理。',
  },
};
