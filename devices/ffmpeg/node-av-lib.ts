/**
 * node-av (FFmpeg's libraries as Node bindings), loaded once on first use: an optional
 * dependency, so a machine without it gets a plain message, not a crash at start.
 */
type Lib = typeof import('node-av/lib');
type Consts = typeof import('node-av/constants');
export type NodeAv = { lib: Lib; c: Consts };

let loaded: Promise<NodeAv> | null = null;
/** Loads node-av once; rejects with a plain message when it is not installed. */
export function loadNodeAv(): Promise<NodeAv> {
  loaded ??= Promise.all([import('node-av/lib'), import('node-av/constants')]).then(
    ([lib, c]) => {
      // FFmpeg's own log goes to the gateway's stderr with no camera on it; each failure
      // reaches the camera's health and log through the error code instead.
      lib.Log.setLevel(c.AV_LOG_QUIET);
      return { lib, c };
    },
    (e: Error) => {
      loaded = null;
      throw new Error(`node-av is not installed or does not load (npm install node-av): ${e.message}`);
    },
  );
  return loaded;
}
