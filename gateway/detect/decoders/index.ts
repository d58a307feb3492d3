/** Every output format a manifest can name, by `output.decoder`. */
import type { Manifest } from '../manifest.ts';
import type { Decoder, DecoderContext } from './common.ts';
import { yoloxDecoder } from './yolox.ts';
import { nanodetDecoder } from './nanodet.ts';
import { yolov5Decoder, yolov8Decoder } from './dense.ts';
import { e2eDecoder } from './e2e.ts';

export const DECODER_FACTORIES: Record<Manifest['output']['decoder'], (ctx: DecoderContext) => Decoder> = {
  yolox: yoloxDecoder,
  nanodet: nanodetDecoder,
  yolov5: yolov5Decoder,
  yolov8: yolov8Decoder,
  e2e: e2eDecoder,
};
