#!/usr/bin/env node
// The launcher: registers tsx's loader in this process and imports the
// TypeScript CLI, so `xenode` is one process. A signal sent to it (kill,
// Ctrl-C, a supervisor's SIGTERM) reaches the command itself: `xenode
// xenstored` closes and removes its socket, a live `xenode xl
// --xenstore-socket` host stops serving, and the exit code is the command's.
// (A spawnSync child, as before, left the daemon running when the launcher
// was killed: the signal went to the parent only.)
// tsx is resolved from this package, so `xenode` works from any directory.
import { register } from 'tsx/esm/api';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
register();
// main.ts reads process.argv.slice(2) and sets process.exitCode.
await import(pathToFileURL(path.join(root, 'src/cli/main.ts')).href);
