// Builds the dashboard into dist/ (served by the manager at /ui/, decision record 029): hashed files under
// dist/assets/, no inline script (the manager's Content-Security-Policy forbids it), no modulepreload polyfill.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/ui/',
  build: { outDir: 'dist', emptyOutDir: true, assetsInlineLimit: 0, modulePreload: { polyfill: false }, target: 'es2022' },
});
