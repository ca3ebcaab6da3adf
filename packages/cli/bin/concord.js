#!/usr/bin/env node
// `concord` (see src/main.ts). A committed file, so installing the workspace can link the bin before
// anything is built; it runs the built CLI.
await import('../dist/main.js');
