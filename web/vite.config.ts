import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// In development (`npm run dev -w web`) the page is served by Vite on :5173 and every API call is
// proxied to a Sala node on :3000, so the session cookie stays first-party.
const api = "http://localhost:3000";

export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No inline scripts or styles in the built page: the CSP forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      "/socket.io": { target: api, ws: true },
      "^/(register|login|logout|session)$": { target: api },
    },
  },
});
