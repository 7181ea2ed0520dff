// Entry point of the dashboard bundle (built by Vite into dist/assets/, served by the manager at /ui/).
import { html } from 'htm/preact';
import { render } from 'preact';
import { App } from './app.js';

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
