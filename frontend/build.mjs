// Builds static/vendor/echarts/echarts.min.js from frontend/echarts.js: `make echarts` (npm ci first).
// The output is committed, so running the product never needs Node. It prints the gzip size the page
// budget (BENCHMARKS.md: pages) is measured against.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "static/vendor/echarts/echarts.min.js");
const version = JSON.parse(readFileSync(join(root, "node_modules/echarts/package.json"))).version;

await build({
  entryPoints: [join(root, "frontend/echarts.js")],
  outfile,
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2019",
  legalComments: "none",
  define: { "process.env.NODE_ENV": '"production"', __DEV__: "false" },
  banner: { js: `/*! Apache ECharts ${version}, custom build (frontend/echarts.js). Apache-2.0; zrender BSD-3-Clause. */` },
});

const bytes = readFileSync(outfile);
console.log(`${outfile}: ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} bytes gzip`);
