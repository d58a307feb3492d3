/**
 * The data folder at start: a lost or cut database beside evidence pictures is an error,
 * not a silent fresh start (seq would begin again at 1); a read-only file system is named
 * as such; the folder is made private.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { settingsAt, startGateway, tempDir } from '../helpers/gateway.ts';
import { canMountTmpfs, mountTmpfs } from '../helpers/tmpfs.ts';
import { prepareDataDir } from '../../gateway/store/data-dir.ts';

const withPicture = () => {
  const dir = join(tempDir('gw-datadir-'), 'data');
  mkdirSync(join(dir, 'evidence', '2026-12-01'), { recursive: true });
  writeFileSync(join(dir, 'evidence', '2026-12-01', '01JABC.jpg'), 'jpeg');
  return dir;
};

describe('data_dir at start', () => {
  it('a zero-length gateway.db beside evidence pictures is refused', () => {
    const dir = withPicture();
    writeFileSync(join(dir, 'gateway.db'), '');
    expect(() => prepareDataDir(dir)).toThrow(`${dir}/gateway.db is empty (0 bytes) but ${dir}/evidence holds 1 evidence pictures`);
  });

  it('a missing gateway.db beside evidence pictures stops the gateway before it opens anything', async () => {
    const root = tempDir('gw-datadir-');
    const dir = withPicture();
    const config = settingsAt(
      root,
      `gateway: { id: gw-x, data_dir: ${dir} }\nmqtt: { url: 'mqtt://127.0.0.1:9' }\nhttp: { enabled: false }\ncameras: []\n`,
    );
    await expect(startGateway(config)).rejects.toThrow(
      /gateway\.db is missing but .* holds 1 evidence pictures: the database was lost or cut/,
    );
  });

  it('a fresh folder is made 0700 and an empty one is fine', () => {
    const dir = join(tempDir('gw-datadir-'), 'new', 'data');
    expect(prepareDataDir(dir).tempRemoved).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it.runIf(canMountTmpfs())('a read-only file system is reported as EROFS, not ENOENT', () => {
    const ro = mountTmpfs(64 * 1024, { readOnly: true });
    try {
      expect(() => prepareDataDir(join(ro.dir, 'data'))).toThrow(`gateway.data_dir ${ro.dir}/data is on a read-only file system (EROFS)`);
      expect(() => prepareDataDir(ro.dir)).toThrow('read-only file system (EROFS)');
    } finally {
      ro.unmount();
    }
  });
});
