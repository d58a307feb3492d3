import sharp from 'sharp';
import { Model } from './gateway/detect/model.ts';
import { loadManifest } from './gateway/detect/manifest.ts';
import { iou } from './gateway/zones/geometry.ts';
const FILES = 'models/files';
const m1 = await Model.load(loadManifest('yolox_nano'), FILES, 2);
const m2 = await Model.load(loadManifest('nanodet_m'), FILES, 2);
for (const img of ['person.jpg', 'bus.jpg', 'dog.jpg']) {
  const { data, info } = await sharp(`${FILES}/${img}`).resize(416, 416, { fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const a = await m1.detect(data, info.width, info.height);
  const b = await m2.detect(data, info.width, info.height);
  for (const l of ['person', 'dog', 'horse', 'bus', 'bicycle', 'car']) {
    const ba = a.filter(d => d.label === l).sort((x, y) => y.score - x.score)[0];
    const bb = b.filter(d => d.label === l).sort((x, y) => y.score - x.score)[0];
    if (ba && bb) console.log(img, l, iou(ba.box, bb.box).toFixed(3), ba.box.map(v=>v.toFixed(3)).join(','), bb.box.map(v=>v.toFixed(3)).join(','));
  }
}
