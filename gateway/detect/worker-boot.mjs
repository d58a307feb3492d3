// Entry of a model worker thread. Node 20 does not pass the main thread's `--import tsx`
// loader to workers, so the worker registers tsx itself, then loads the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
