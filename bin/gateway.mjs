#!/usr/bin/env node
// The `gateway` command. The sources are TypeScript run through tsx, so there is no
// build step to forget on an edge box.
import { register } from 'tsx/esm/api';

register();
await import('../gateway/cli.ts');
