// Bundles src/index.ts and JupyterLab's packages into build/ with esbuild
// (about ten seconds; webpack or rspack, which JupyterLab's own examples use,
// take minutes on two cores). `npm ci && npm run build`.
import * as esbuild from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

// JupyterLab imports its icons' SVG as strings from JavaScript and refers to
// SVG files from CSS with url(): the first become text, the second files.
const svg = {
  name: 'svg',
  setup(build) {
    build.onResolve({ filter: /\.svg$/ }, args => {
      if (args.kind === 'url-token') {
        return undefined;
      }
      return {
        path: path.resolve(args.resolveDir, args.path),
        namespace: 'svg-text'
      };
    });
    build.onLoad({ filter: /.*/, namespace: 'svg-text' }, async args => ({
      contents: await readFile(args.path, 'utf8'),
      loader: 'text'
    }));
  }
};

// JupyterLab's CSS imports packages webpack-style: @import url('~pkg/…').
const tilde = {
  name: 'tilde',
  setup(build) {
    build.onResolve({ filter: /^~/ }, args =>
      build.resolve(args.path.slice(1), {
        kind: args.kind,
        resolveDir: args.resolveDir
      })
    );
  }
};

const started = Date.now();
await esbuild.build({
  entryPoints: ['src/index.ts'],
  bundle: true,
  // One file: with code splitting esbuild gives a CommonJS module loaded by
  // import() only a default export, and MathJax's loader needs its names.
  format: 'esm',
  minify: true,
  outdir: 'build',
  entryNames: '[name]',
  assetNames: 'assets/[name]-[hash]',
  platform: 'browser',
  target: 'es2020',
  logLevel: 'warning',
  plugins: [tilde, svg],
  inject: ['src/process-shim.js'],
  define: {
    'process.env.NODE_ENV': '"production"',
    global: 'globalThis',
    // MathJax's require extension asks for its directory, as webpack provides.
    __dirname: '"/"'
  },
  loader: {
    '.svg': 'file',
    '.woff': 'file',
    '.woff2': 'file',
    '.ttf': 'file',
    '.eot': 'file',
    '.png': 'file',
    '.gif': 'file'
  }
});
console.log(`built build/index.js and build/index.css in ${((Date.now() - started) / 1000).toFixed(1)} s`);
