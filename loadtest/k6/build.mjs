// Bundles each k6 script (loadtest/k6/<name>.ts) with what it imports (the load library,
// @sala/protocol, crypto-js) into one ES module, loadtest/dist/k6/<name>.js, because k6 cannot
// resolve node_modules. Only `k6` and `k6/*` stay imports: the user's k6 provides them.
//
//   node loadtest/k6/build.mjs [outdir]        (part of `npm run build`)
//
// crypto-js looks for a random source in this order: window.crypto, self.crypto,
// globalThis.crypto, global.crypto, then require("crypto") inside a try. k6 has a global WebCrypto
// `crypto` (since 0.52; the scripts need k6 ≥ 1.6.0 anyway, for k6/websockets), so the third one
// is found at init. platform "browser" honours crypto-js's
// package.json "browser": { "crypto": false }, so the bundle holds an empty module there instead of a
// require of Node's crypto: nothing tries to load a Node module at runtime, and a k6 without a
// global crypto fails with crypto-js's own error on the first encryption.
import { build } from "esbuild";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, URL } from "node:url";

export const SCRIPTS = ["login-storm", "lobby-churn", "room-chat", "whisper-storm"];

// What a bundle may contain besides the load library: anything else (ws, node:*, a Node-only
// package) would not run under k6, so the build stops instead.
const BUNDLED = /^(@sala\/protocol|crypto-js)(\/|$)/;
const k6Only = {
  name: "k6-only",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, ({ path, importer }) => {
      if (BUNDLED.test(path) || /^k6(\/|$)/.test(path)) return undefined;
      if (path === "crypto" && importer.includes("/crypto-js/")) return undefined; // disabled, see above
      return { errors: [{ text: `"${path}" (imported by ${importer}) cannot be bundled for k6` }] };
    });
  },
};

const here = fileURLToPath(new URL(".", import.meta.url));
const outdir = process.argv[2] ?? join(here, "../dist/k6");

await build({
  entryPoints: SCRIPTS.map((name) => join(here, `${name}.ts`)),
  outdir,
  bundle: true,
  format: "esm",
  platform: "browser",
  // k6's JavaScript engine (Sobek) runs ES2017 and async/await natively; newer syntax is lowered.
  target: "es2017",
  external: ["k6", "k6/*"],
  banner: { js: "// Built from loadtest/k6 by loadtest/k6/build.mjs (npm run build); run it with your own k6." },
  plugins: [k6Only],
  logLevel: "warning",
});
