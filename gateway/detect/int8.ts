/**
 * Builds the int8 YOLOX-Nano from the fp32 file: static QDQ quantization, the format
 * onnxruntime turns into its int8 kernels (QLinearConv, QLinearSigmoid, QLinearMul, ...)
 * when it loads the model. Weights are int8, symmetric, one scale per output channel;
 * activations uint8 with the ranges measured by scripts/quantize-int8.ts on frames of the
 * sample scenes, written down in a recipe file next to the manifest. The build is plain
 * arithmetic on the fp32 weights and the recipe's numbers, so every box makes the same
 * bytes (the manifest's SHA-256) whatever its CPU.
 *
 * Uses `onnx-proto` (a dev dependency): a box installed without it fetches the built
 * file from a mirror instead.
 */
import type { onnx as OnnxNs } from 'onnx-proto';

type Onnx = typeof OnnxNs;
type Graph = OnnxNs.IGraphProto;
type Node = OnnxNs.INodeProto;
type Tensor = OnnxNs.ITensorProto;

export interface Int8Recipe {
  /** Nodes left in fp32 (all but the few convs worth running in int8: defaultFp32). */
  fp32: string[];
  /**
   * 'fp32': each SiLU (Sigmoid then Mul) becomes one fp32 QuickGelu between the int8 convs
   * (onnxruntime's int8 Sigmoid and Mul cost more than the int8 convs save); 'int8': they
   * run as QLinearSigmoid and QLinearMul.
   */
  silu?: 'fp32' | 'int8';
  /** Calibrated [min, max] of every activation tensor an int8 node reads or writes. */
  ranges: Record<string, [number, number]>;
}

/** The ops that run in int8 when neither their node is kept in fp32. */
const INT8_OPS = new Set(['Conv', 'Sigmoid', 'Mul', 'Add', 'Concat', 'MaxPool', 'Resize']);
/** Ops whose output is a subset of their input's values: they share its scale, so onnxruntime drops their Q/DQ. */
const SAME_SCALE = new Set(['MaxPool', 'Resize']);
export const SILU_FLOOR = -6;
/** A pointwise conv runs in int8 when it reads at least this many channels (defaultFp32). */
const INT8_MIN_CHANNELS = 256;

async function loadOnnx(): Promise<Onnx> {
  try {
    return (await import('onnx-proto')).default.onnx;
  } catch (e) {
    throw new Error(`building an int8 model needs the onnx-proto package (a dev dependency): ${(e as Error).message}`);
  }
}

/** The activation tensors that get Q/DQ, and for each the tensor whose range it takes. */
export function plan(g: Graph, fp32: ReadonlySet<string>): Map<string, string> {
  const inits = new Set((g.initializer ?? []).map((t) => t.name as string));
  const int8 = (g.node ?? []).filter((n) => INT8_OPS.has(n.opType as string) && !fp32.has(n.name as string));
  const out = new Map<string, string>();
  for (const n of int8) {
    // Conv and Resize read one activation (the rest are weights, bias, scales).
    const data = n.opType === 'Conv' || n.opType === 'Resize' ? [n.input![0]] : n.input!;
    for (const t of data) if (t && !inits.has(t) && !out.has(t)) out.set(t, t);
  }
  for (const n of int8) out.set(n.output![0], SAME_SCALE.has(n.opType as string) ? (out.get(n.input![0]) ?? n.input![0]) : n.output![0]);
  for (const o of g.output ?? []) out.delete(o.name as string);
  return out;
}

/**
 * The nodes kept in fp32: all but the pointwise (1x1) convs that read at least
 * INT8_MIN_CHANNELS channels, the twelve convs of the 13- and 26-pixel maps (dark5, its
 * SPP and CSP, the PAN's deep convs and the stride-32 head's stem). Only there does an int8
 * conv save more than the quantise/dequantise and the layout changes around it cost on
 * onnxruntime's CPU kernels: its small convs (16 to 128 channels, and every depthwise one)
 * ran no faster in int8, and every uint8 tensor between two of them added error. With all
 * convs in int8 but the stem and the head's prediction convs, int8 cost between 10% less
 * and 10% more CPU than fp32 (by what else the machine ran) and its boxes missed fp32's on
 * street.png and in the street-vending scene; with these twelve it agrees (README, "The
 * int8 YOLOX-Nano").
 */
export function defaultFp32(g: Graph): string[] {
  const inits = new Map((g.initializer ?? []).map((t) => [t.name as string, t]));
  const int8 = (n: Node) => {
    if (n.opType !== 'Conv') return false;
    const dims = inits.get(n.input![1])?.dims?.map(Number) ?? [];
    const group = Number(n.attribute?.find((a) => a.name === 'group')?.i ?? 1);
    return group === 1 && dims.length === 4 && dims[2] === 1 && dims[3] === 1 && dims[1] >= INT8_MIN_CHANNELS;
  };
  return (g.node ?? []).filter((n) => !int8(n)).map((n) => n.name as string);
}

function floats(t: Tensor): Float32Array {
  if (t.floatData?.length) return Float32Array.from(t.floatData);
  const raw = t.rawData as Uint8Array;
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  return new Float32Array(copy.buffer);
}

/** uint8 scale and zero point for a range, which is widened to hold 0 (padding must be exact). */
export function activationParams([lo, hi]: [number, number]): { scale: number; zero: number } {
  const min = Math.min(lo, 0);
  const max = Math.max(hi, 0);
  const scale = Math.fround(Math.max(max - min, 1e-8) / 255);
  const zero = Math.max(0, Math.min(255, Math.round(-min / scale)));
  return { scale, zero };
}

/** Rewrites every x * Sigmoid(x) as one com.microsoft QuickGelu (alpha 1), the node onnxruntime fuses SiLU into. */
function siluAsQuickGelu(onnx: Onnx, g: Graph): void {
  const nodes = g.node ?? [];
  const bySigmoid = new Map<string, Node>();
  for (const n of nodes) if (n.opType === 'Sigmoid') bySigmoid.set(n.output![0], n);
  const gone = new Set<Node>();
  for (const n of nodes) {
    if (n.opType !== 'Mul') continue;
    const [a, b] = n.input!;
    const sig = bySigmoid.get(b) ?? bySigmoid.get(a);
    const x = sig && (sig.input![0] === a || sig.input![0] === b) ? sig.input![0] : undefined;
    if (!sig || !x || nodes.some((o) => o !== n && o.input!.includes(sig.output![0]))) continue;
    gone.add(sig);
    n.opType = 'QuickGelu';
    n.domain = 'com.microsoft';
    n.input = [x];
    n.attribute = [onnx.AttributeProto.create({ name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 })];
  }
  g.node = nodes.filter((n) => !gone.has(n)) as OnnxNs.NodeProto[];
}

/** Returns the serialised int8 QDQ model. */
export async function buildInt8(fp32Bytes: Uint8Array, recipe: Int8Recipe): Promise<Uint8Array> {
  const onnx = await loadOnnx();
  const DT = onnx.TensorProto.DataType;
  const m = onnx.ModelProto.decode(fp32Bytes);
  const g = m.graph!;
  if (recipe.silu === 'fp32') siluAsQuickGelu(onnx, g);
  const fp32 = new Set(recipe.fp32);
  const quantised = plan(g, fp32);
  const inits = new Map((g.initializer ?? []).map((t) => [t.name as string, t]));
  const extra: Tensor[] = [];
  const scalar = (name: string, dataType: number, v: number) =>
    onnx.TensorProto.create({ name, dims: [], dataType, ...(dataType === DT.FLOAT ? { floatData: [v] } : { int32Data: [v] }) });
  const raw = (name: string, dims: number[], dataType: number, bytes: ArrayBufferView) =>
    onnx.TensorProto.create({ name, dims, dataType, rawData: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
  const qdq = (op: 'QuantizeLinear' | 'DequantizeLinear', input: string[], output: string, axis?: number) =>
    onnx.NodeProto.create({
      opType: op,
      name: `${output}_${op === 'QuantizeLinear' ? 'q' : 'dq'}`,
      input,
      output: [output],
      attribute: axis === undefined ? [] : [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }],
    });

  // Activations: one Q after the producer, one DQ that every consumer then reads.
  const params = new Map<string, { scale: number; zero: number }>();
  const siluIn = new Set((g.node ?? []).filter((n) => n.opType === 'QuickGelu').map((n) => n.input![0]));
  for (const [t, from] of quantised) {
    const r = recipe.ranges[from];
    if (!r) throw new Error(`int8 recipe has no range for tensor ${from}`);
    // What a SiLU reads is cut at SILU_FLOOR (SiLU there is -0.015, below it 0 and less): the
    // convs' long negative tails (to -65) would otherwise take most of the 256 steps from
    // the part where SiLU bends, which moved boxes by more than the IoU 0.8 allowed.
    params.set(t, activationParams(siluIn.has(t) ? [Math.max(r[0], SILU_FLOOR), r[1]] : r));
  }
  const qdqAfter = new Map<string, Node[]>();
  for (const [t, p] of params) {
    extra.push(scalar(`${t}_scale`, DT.FLOAT, p.scale), raw(`${t}_zero`, [], DT.UINT8, Uint8Array.of(p.zero)));
    qdqAfter.set(t, [
      qdq('QuantizeLinear', [t, `${t}_scale`, `${t}_zero`], `${t}_q`),
      qdq('DequantizeLinear', [`${t}_q`, `${t}_scale`, `${t}_zero`], `${t}_dq`),
    ]);
  }
  for (const n of g.node ?? []) n.input = n.input!.map((t) => (params.has(t) ? `${t}_dq` : t));

  // Conv weights: int8 per output channel, symmetric; bias int32 at the input scale times the weight's.
  const weightNodes: Node[] = [];
  for (const n of g.node ?? []) {
    if (n.opType !== 'Conv' || fp32.has(n.name as string)) continue;
    const x = n.input![0].replace(/_dq$/, '');
    const xp = params.get(x);
    if (!xp) throw new Error(`conv ${n.name}: its input ${x} is not quantised`);
    const wt = inits.get(n.input![1])!;
    const dims = wt.dims!.map(Number);
    const w = floats(wt);
    const C = dims[0];
    const per = w.length / C;
    const ws = new Float32Array(C);
    const q = new Int8Array(w.length);
    for (let c = 0; c < C; c++) {
      let amax = 0;
      for (let i = 0; i < per; i++) amax = Math.max(amax, Math.abs(w[c * per + i]));
      ws[c] = Math.fround(Math.max(amax, 1e-8) / 127);
      for (let i = 0; i < per; i++) q[c * per + i] = Math.max(-127, Math.min(127, Math.round(w[c * per + i] / ws[c])));
    }
    const wn = n.input![1];
    extra.push(raw(`${wn}_q`, dims, DT.INT8, q), raw(`${wn}_scale`, [C], DT.FLOAT, ws), raw(`${wn}_zero`, [C], DT.INT8, new Int8Array(C)));
    weightNodes.push(qdq('DequantizeLinear', [`${wn}_q`, `${wn}_scale`, `${wn}_zero`], `${wn}_dq`, 0));
    const inputs = [n.input![0], `${wn}_dq`];
    if (n.input![2]) {
      const bn = n.input![2];
      const b = floats(inits.get(bn)!);
      const bs = ws.map((s) => Math.fround(s * xp.scale));
      const bq = Int32Array.from(b, (v, c) => Math.round(v / bs[c]));
      extra.push(
        raw(`${bn}_q`, [C], DT.INT32, bq),
        raw(`${bn}_scale`, [C], DT.FLOAT, bs),
        raw(`${bn}_zero`, [C], DT.INT32, new Int32Array(C)),
      );
      weightNodes.push(qdq('DequantizeLinear', [`${bn}_q`, `${bn}_scale`, `${bn}_zero`], `${bn}_dq`, 0));
      inputs.push(`${bn}_dq`);
    }
    n.input = inputs;
  }
  const used = new Set((g.node ?? []).flatMap((n) => n.input!));
  g.initializer = [...(g.initializer ?? []).filter((t) => used.has(t.name as string)), ...extra];

  const nodes: Node[] = [...weightNodes];
  for (const n of g.node ?? []) {
    nodes.push(n);
    for (const o of n.output!) nodes.push(...(qdqAfter.get(o) ?? []));
  }
  g.node = nodes as OnnxNs.NodeProto[];
  g.valueInfo = [];
  // Per-axis QuantizeLinear/DequantizeLinear need opset 13; nothing else in the graph changed meaning since 11.
  m.opsetImport = [
    onnx.OperatorSetIdProto.create({ domain: '', version: 13 }),
    ...(recipe.silu === 'fp32' ? [onnx.OperatorSetIdProto.create({ domain: 'com.microsoft', version: 1 })] : []),
  ];
  m.irVersion = 7;
  m.producerName = 'township-gateway int8 (scripts/quantize-int8.ts)';
  m.producerVersion = '1';
  return onnx.ModelProto.encode(m).finish();
}
