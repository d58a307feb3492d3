/**
 * Small ONNX graph tools for tests and benchmarks (dev only: uses `onnx-proto`).
 *
 * - `tinyDetector` builds a model that outputs known tensors in a chosen layout, so the
 *   decoders for formats we have no real weights for (YOLOv5, YOLOv8/11, end-to-end/SSD)
 *   are tested through onnxruntime itself. Each output is `base + mean(image) * delta`,
 *   so a test can move boxes per batch item by feeding frames of different brightness.
 * - `withDynamicBatch` rewrites a model's batch dimension to a symbolic one, where the
 *   graph allows it, to measure batching with the real weights.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;

export interface TinyOutput {
  name: string;
  /** Full shape with batch 1 first, e.g. [1, 84, 8400]. */
  shape: number[];
  /** Row-major values for batch item 0 when the image mean is 0. */
  base: Float32Array | number[];
  /** Added per unit of the image's mean pixel value (default: nothing). */
  delta?: Float32Array | number[];
  /** Output element type: float (default), int64 or int32 (rounded from the float). */
  type?: 'float' | 'int64' | 'int32';
  /** False for outputs without a batch dimension (e.g. [N, 7] rows of every image). */
  batchFirst?: boolean;
}

export interface TinyOptions {
  inputName?: string;
  width: number;
  height: number;
  /** 'dynamic' gives a symbolic batch dimension; a number fixes it. */
  batch?: 'dynamic' | number;
  outputs: TinyOutput[];
}

function floatTensor(name: string, dims: number[], values: ArrayLike<number>) {
  return onnx.TensorProto.create({ name, dims, dataType: DT.FLOAT, floatData: Array.from(values) });
}

function int64Tensor(name: string, dims: number[], values: number[]) {
  return onnx.TensorProto.create({ name, dims, dataType: DT.INT64, int64Data: values });
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

/** Builds the model and returns its serialised bytes. */
export function tinyDetector(o: TinyOptions): Uint8Array {
  const input = o.inputName ?? 'images';
  const batch = o.batch ?? 1;
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const inits: InstanceType<typeof onnx.TensorProto>[] = [];
  // mean over C, H, W: [B,1,1,1]
  nodes.push(
    onnx.NodeProto.create({
      opType: 'ReduceMean',
      input: [input],
      output: ['mean4'],
      attribute: [
        { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 2, 3] },
        { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
      ],
    }),
  );
  const outs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  for (const out of o.outputs) {
    const n = out.shape.reduce((a, b) => a * b, 1);
    if (out.base.length !== n) throw new Error(`${out.name}: base has ${out.base.length} values, shape ${out.shape} needs ${n}`);
    const rank = out.shape.length;
    // Reshape the per-item mean to [B, 1, ...] with the output's rank, then base + mean * delta.
    inits.push(int64Tensor(`${out.name}_mshape`, [rank], [-1, ...Array(rank - 1).fill(1)]));
    inits.push(floatTensor(`${out.name}_base`, out.shape, out.base));
    inits.push(floatTensor(`${out.name}_delta`, out.shape, out.delta ?? new Float32Array(n)));
    nodes.push(onnx.NodeProto.create({ opType: 'Reshape', input: ['mean4', `${out.name}_mshape`], output: [`${out.name}_m`] }));
    nodes.push(onnx.NodeProto.create({ opType: 'Mul', input: [`${out.name}_m`, `${out.name}_delta`], output: [`${out.name}_md`] }));
    const type = out.type ?? 'float';
    const sum = type === 'float' ? out.name : `${out.name}_f`;
    nodes.push(onnx.NodeProto.create({ opType: 'Add', input: [`${out.name}_md`, `${out.name}_base`], output: [sum] }));
    if (type !== 'float') {
      nodes.push(onnx.NodeProto.create({ opType: 'Round', input: [sum], output: [`${out.name}_r`] }));
      nodes.push(
        onnx.NodeProto.create({
          opType: 'Cast',
          input: [`${out.name}_r`],
          output: [out.name],
          attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: type === 'int64' ? DT.INT64 : DT.INT32 }],
        }),
      );
    }
    const elem = type === 'float' ? DT.FLOAT : type === 'int64' ? DT.INT64 : DT.INT32;
    const first = out.batchFirst === false ? out.shape[0] : batch === 'dynamic' ? 'batch' : batch;
    outs.push(valueInfo(out.name, elem, [first, ...out.shape.slice(1)]));
  }
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'township-gateway tiny detector',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny',
      node: nodes,
      initializer: inits,
      input: [valueInfo(input, DT.FLOAT, [batch === 'dynamic' ? 'batch' : batch, 3, o.height, o.width])],
      output: outs,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Makes the first dimension of every graph input and output symbolic, and Reshape
 * targets that start with a baked-in batch of 1 copy the batch instead. The caller must
 * check that items of a batch give the same outputs as one at a time (bench-detect does).
 */
export function withDynamicBatch(bytes: Uint8Array): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  for (const v of [...(g.input ?? []).filter((i) => !inits.has(i.name!)), ...(g.output ?? [])]) {
    const dim = v.type?.tensorType?.shape?.dim;
    if (dim?.length) dim[0] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'batch' });
  }
  // Exporters bake the batch into Reshape targets ([1, 85, -1]); 0 copies the input's
  // dimension instead (ONNX Reshape, allowzero 0), which is the batch.
  const byName = new Map((g.initializer ?? []).map((t) => [t.name, t]));
  for (const n of g.node ?? []) {
    if (n.opType !== 'Reshape') continue;
    const t = byName.get(n.input?.[1] ?? '');
    if (!t || t.dataType !== DT.INT64) continue;
    if (t.int64Data?.length) {
      if (Number(t.int64Data[0]) === 1) t.int64Data[0] = 0;
    } else if (t.rawData?.length) {
      const raw = Uint8Array.from(t.rawData);
      const v = new BigInt64Array(raw.buffer);
      if (v[0] === 1n) v[0] = 0n;
      t.rawData = raw;
    }
  }
  // Shapes inferred at export time would contradict the new batch; let onnxruntime infer them.
  g.valueInfo = [];
  return onnx.ModelProto.encode(m).finish();
}

/**
 * Adds `matmuls` chained K×K matrix products to a model's every run, without changing
 * its outputs (their result is multiplied by zero and added): the same model on a box
 * that is that much slower. Overload tests and benchmarks use it to make detection the
 * bottleneck with a handful of cameras. The chain starts from the input's mean, so
 * onnxruntime cannot fold it away as a constant.
 */
export function withExtraWork(bytes: Uint8Array, matmuls: number, k = 512): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  const g = m.graph!;
  const input = g.input!.find((i) => !(g.initializer ?? []).some((t) => t.name === i.name))!.name as string;
  const ints = onnx.AttributeProto.AttributeType.INTS;
  const int = onnx.AttributeProto.AttributeType.INT;
  const reduce = (op: string, from: string, to: string, rank: number) =>
    onnx.NodeProto.create({
      opType: op,
      input: [from],
      output: [to],
      attribute: [
        { name: 'axes', type: ints, ints: Array.from({ length: rank }, (_, i) => i) },
        { name: 'keepdims', type: int, i: 0 },
      ],
    });
  g.initializer!.push(floatTensor('work_w', [k, k], new Float32Array(k * k).fill(1 / k)));
  g.initializer!.push(floatTensor('work_zero', [], [0]));
  const nodes = [
    reduce('ReduceMean', input, 'work_mean', 4),
    onnx.NodeProto.create({ opType: 'Add', input: ['work_mean', 'work_w'], output: ['work_0'] }),
  ];
  for (let i = 0; i < matmuls; i++)
    nodes.push(onnx.NodeProto.create({ opType: 'MatMul', input: [`work_${i}`, 'work_w'], output: [`work_${i + 1}`] }));
  nodes.push(reduce('ReduceSum', `work_${matmuls}`, 'work_sum', 2));
  nodes.push(onnx.NodeProto.create({ opType: 'Mul', input: ['work_sum', 'work_zero'], output: ['work_nothing'] }));
  for (const out of g.output!) {
    const raw = `${out.name}_before_work`;
    const name = out.name as string;
    for (const n of g.node!) n.output = n.output!.map((o) => (o === name ? raw : o));
    nodes.push(onnx.NodeProto.create({ opType: 'Add', input: [raw, 'work_nothing'], output: [name] }));
  }
  g.node!.push(...nodes);
  return onnx.ModelProto.encode(m).finish();
}
