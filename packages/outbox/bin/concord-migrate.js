#!/usr/bin/env node
// `concord-migrate` (see src/cli.ts). A committed file, so installing the workspace can link the bin
// before anything is built; it runs the built CLI.
await import('../dist/cli.js');
