// Builds the web UI: `node build.mjs --outdir <dir>` writes exactly index.html, app.js
// (minified ES2020 bundle, uPlot included) and app.css (uPlot's CSS and ours, minified).
// The names are fixed (the server embeds and ETags them) and the output is deterministic.
import * as esbuild from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = { outdir: join(here, 'dist') };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--outdir' && i + 1 < argv.length) args.outdir = resolve(argv[++i]);
    else if (argv[i].startsWith('--outdir=')) args.outdir = resolve(argv[i].slice(9));
    else throw new Error(`unknown argument ${argv[i]} (usage: node build.mjs --outdir DIR)`);
  }
  return args;
}

const { outdir } = parseArgs(process.argv.slice(2));
await mkdir(outdir, { recursive: true });

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  write: false,
  logLevel: 'warning',
  legalComments: 'eof',
  charset: 'utf8',
};

const js = await esbuild.build({
  ...common,
  entryPoints: ['src/main.ts'],
  outfile: 'app.js',
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
});

const css = await esbuild.build({
  ...common,
  stdin: {
    contents: '@import "uplot/dist/uPlot.min.css";\n@import "./src/style.css";\n',
    resolveDir: here,
    loader: 'css',
    sourcefile: 'app.css',
  },
  outfile: 'app.css',
  target: ['chrome100', 'firefox100', 'safari15'],
});

const html = await readFile(join(here, 'src/index.html'), 'utf8');

await writeFile(join(outdir, 'app.js'), js.outputFiles[0].contents);
await writeFile(join(outdir, 'app.css'), css.outputFiles[0].contents);
await writeFile(join(outdir, 'index.html'), html);
