/**
 * Load-time checks of a session against its manifest, from the model's own metadata:
 * the input's name and shape, and output sizes that must match the labels. (The warm-up
 * run in model.ts then checks the real outputs through the decoder itself.)
 */
import type ort from 'onnxruntime-node';
import type { Manifest } from './manifest.ts';

type Fail = (message: string) => Error;
type TensorMeta = { name: string; isTensor: true; shape: readonly (number | string)[] };

const known = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;

/** Returns the batch dimension: a fixed size, or 'dynamic'. */
export function checkInput(m: Manifest, session: ort.InferenceSession, name: string, fail: Fail): number | 'dynamic' {
  if (!session.inputNames.includes(name)) throw fail(`input "${name}" not in the model (it has ${session.inputNames.join(', ')})`);
  const meta = session.inputMetadata.find((x) => x.name === name);
  if (!meta?.isTensor) return 1;
  const shape = (meta as TensorMeta).shape;
  const { width, height } = m.input;
  const want = [3, height, width];
  const got = shape.slice(1);
  if (shape.length !== 4 || got.some((d, i) => known(d) && d !== want[i]))
    throw fail(`input shape is [${shape.join(',')}], the manifest says [1,3,${height},${width}]`);
  return known(shape[0]) ? shape[0] : 'dynamic';
}

export function checkOutputMetadata(m: Manifest, session: ort.InferenceSession, fail: Fail): void {
  const C = m.labelList.length;
  const outs = session.outputMetadata.filter((o) => o.isTensor) as TensorMeta[];
  const named = m.output.tensors.detections;
  const main = (named ? outs.find((o) => o.name === named) : outs[0]) ?? outs[0];
  if (!main) throw fail('the model has no tensor outputs');
  const dims = main.shape;
  const last = dims.at(-1);
  const bad = (what: string) => fail(`${what}; labels file has ${C} classes (${m.path})`);
  switch (m.output.decoder) {
    case 'yolox':
      if (known(last) && last !== 5 + C) throw bad(`output rows have ${last} values, expected 5 + ${C}`);
      break;
    case 'nanodet':
      if (known(last) && last !== C) throw bad(`score outputs have ${last} classes`);
      if (outs.length !== 2 * m.output.strides.length)
        throw fail(`NanoDet with strides [${m.output.strides}] has ${2 * m.output.strides.length} outputs, the model has ${outs.length}`);
      break;
    case 'yolov5':
    case 'yolov8': {
      const K = (m.output.decoder === 'yolov5' ? 5 : 4) + C;
      const [, a, b] = dims;
      if (dims.length === 3 && known(a) && known(b) && a !== K && b !== K)
        throw bad(`output is [${dims.join(',')}]: neither dimension is ${m.output.decoder === 'yolov5' ? 5 : 4} + ${C}`);
      break;
    }
    case 'e2e':
      break; // class ids only show in the values; the warm-up run checks the shapes
  }
}
