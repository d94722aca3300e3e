// Bundles one TypeScript module of src/ with esbuild and imports it, so `node --test` runs
// against the same code the browser gets (the pure modules need no DOM).
import * as esbuild from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function load(name) {
  const r = await esbuild.build({
    absWorkingDir: web,
    entryPoints: [`src/${name}.ts`],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2020',
    write: false,
    logLevel: 'error',
  });
  const code = r.outputFiles[0].text;
  return import('data:text/javascript;base64,' + Buffer.from(code).toString('base64'));
}
