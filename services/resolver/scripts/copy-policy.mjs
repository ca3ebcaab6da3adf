// Build step: ship the bundled example policy of @concord/core inside the resolver's dist, because a
// deployed @concord/core contains its dist only.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let dir = dirname(fileURLToPath(import.meta.resolve('@concord/core')));
while (
  !existsSync(join(dir, 'package.json')) ||
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== '@concord/core'
) {
  if (dirname(dir) === dir) throw new Error('cannot find the @concord/core package');
  dir = dirname(dir);
}
const target = join(here, '..', 'dist', 'policies');
mkdirSync(target, { recursive: true });
copyFileSync(join(dir, 'policies', 'example.yaml'), join(target, 'example.yaml'));
