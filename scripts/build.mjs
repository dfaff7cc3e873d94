// Builds the package: JavaScript, declarations and source maps in dist/ (tsc), plus the Avro schemas the
// transports read at run time. One command: `npm run build` (also run by `prepare` after `npm ci`).
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
cpSync(join(root, 'src/transports/schemas'), join(root, 'dist/src/transports/schemas'), { recursive: true });
// The live view's page and scripts (served by src/server/routes/view.ts from beside the compiled route).
cpSync(join(root, 'src/server/view'), join(root, 'dist/src/server/view'), { recursive: true });

// Declarations keep the source's `.ts` specifiers; consumers resolve `.js` (nodenext) or either (bundler).
const specifier = /((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)\.ts(['"])/g;
for (const entry of readdirSync(join(root, 'dist'), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const file = join(entry.parentPath, entry.name);
  const text = readFileSync(file, 'utf8');
  const fixed = text.replace(specifier, '$1$2.js$3');
  if (fixed !== text) writeFileSync(file, fixed);
}
