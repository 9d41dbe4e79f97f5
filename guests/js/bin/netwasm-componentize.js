#!/usr/bin/env node
// Builds a netwasm guest written with @netwasm/guest into a component:
//
//   netwasm-componentize app.js -o lab.wasm [--world lab|plugin] [--wit DIR]
//
// It runs componentize-js (which the project installs itself:
// `npm install @bytecodealliance/componentize-js@0.23.0
// @bytecodealliance/preview2-shim@0.25.0`) with what netwasm needs:
//   - the WIT this SDK ships (wit/, netwasm:lab@0.1.0), world netwasm:lab/lab;
//   - `-d http fetch-event`, without which the component imports wasi:http
//     and netwasm refuses it;
//   - `@netwasm/guest` resolved: the engine loads modules by path and knows
//     no node_modules, so the entry's `from '@netwasm/guest'` is pointed at
//     this package's index.js (in a hidden copy of the entry beside it,
//     removed afterwards; the SDK maps its name back in stack traces).
// Exit 127 when componentize-js cannot be found, as the examples' build.sh
// scripts do for a missing tool.

import { existsSync, realpathSync, readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, basename, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(realpathSync(fileURLToPath(import.meta.url)));
const sdk = realpathSync(join(here, '..', 'index.js'));

function usage(why) {
  if (why) console.error(`netwasm-componentize: ${why}`);
  console.error('usage: netwasm-componentize SOURCE.js -o OUT.wasm [--world lab|plugin] [--wit DIR]');
  process.exit(2);
}

const args = process.argv.slice(2);
let source;
let out;
let world = 'lab';
let wit = join(here, '..', 'wit');
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '-o' || a === '--out') out = args[++i];
  else if (a === '--world') world = args[++i];
  else if (a === '--wit') wit = args[++i];
  else if (a === '-h' || a === '--help') usage();
  else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else if (source === undefined) source = a;
  else usage(`one source file, not ${source} and ${a}`);
}
if (!source || !out) usage();
if (world !== 'lab' && world !== 'plugin') usage(`--world is lab or plugin, not ${world}`);
source = realpathSync(resolve(source));
out = resolve(out);
wit = resolve(wit);

// componentize-js from the project: up from the working directory, then
// from the source's; NETWASM_COMPONENTIZE_JS names its directory outright.
function findComponentizeJs() {
  if (process.env.NETWASM_COMPONENTIZE_JS) return resolve(process.env.NETWASM_COMPONENTIZE_JS);
  for (const start of [process.cwd(), dirname(source)]) {
    for (let d = start; ; d = dirname(d)) {
      const p = join(d, 'node_modules', '@bytecodealliance', 'componentize-js');
      if (existsSync(join(p, 'package.json'))) return p;
      if (dirname(d) === d) break;
    }
  }
  return undefined;
}
const cjs = findComponentizeJs();
if (!cjs) {
  console.error(
    'netwasm-componentize: @bytecodealliance/componentize-js not found; in your project run\n' +
      '  npm install --save-dev @bytecodealliance/componentize-js@0.23.0 @bytecodealliance/preview2-shim@0.25.0',
  );
  process.exit(127);
}
const pkg = JSON.parse(readFileSync(join(cjs, 'package.json'), 'utf8'));
const entry = pkg.exports?.['.']?.import ?? pkg.exports?.import ?? pkg.main ?? 'src/componentize.js';
const { componentize } = await import(pathToFileURL(join(cjs, entry)).href);

// The engine sees the working directory as `/` and loads modules inside
// it only: work from the deepest directory holding both the entry and the
// SDK.
function common(a, b) {
  const pa = a.split(sep);
  const pb = b.split(sep);
  let i = 0;
  while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
  return pa.slice(0, i).join(sep) || sep;
}

// The entry, with the SDK's specifier turned into a relative path.
const dir = dirname(source);
// An SDK linked from elsewhere (`npm install ../sdk`) may share nothing
// but `/` with the entry, and componentize-js cannot work from `/` (it
// cuts one character too many off every path): a hidden copy of the SDK
// beside the entry, removed afterwards, serves then.
const sdkCopy = common(dir, dirname(sdk)) === sep ? join(dir, '.netwasm-guest.js') : undefined;
if (sdkCopy) writeFileSync(sdkCopy, readFileSync(sdk));
const sdkUsed = sdkCopy ?? sdk;
let spec = relative(dir, sdkUsed).split(sep).join('/');
if (!spec.startsWith('.')) spec = `./${spec}`;
const text = readFileSync(source, 'utf8');
const rewritten = text.replace(
  /((?:\bfrom|\bimport)\s*)(['"])@netwasm\/guest\2/g,
  (_, kw, q) => `${kw}${q}${spec}${q}`,
);
const built = rewritten === text ? source : join(dir, `.${basename(source)}.netwasm-build.js`);
if (built !== source) writeFileSync(built, rewritten);

const cwd = process.cwd();
process.chdir(common(dir, dirname(sdkUsed)));
try {
  const { component } = await componentize({
    sourcePath: built,
    witPath: wit,
    worldName: `netwasm:lab/${world}`,
    disableFeatures: ['http', 'fetch-event'],
  });
  writeFileSync(`${out}.tmp`, component);
  renameSync(`${out}.tmp`, out);
} finally {
  process.chdir(cwd);
  if (built !== source) rmSync(built, { force: true });
  if (sdkCopy) rmSync(sdkCopy, { force: true });
}
