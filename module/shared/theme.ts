import { css, unsafeCSS } from 'lit';

/**
 * Design tokens. Each is public as `--vsc-<name>` (a host overrides it on any ancestor) and used inside the
 * components as `--_<name>`, which falls back to the light or dark default chosen by the `theme` attribute.
 * Components never declare `--vsc-*` themselves, so values set by the host inherit through every shadow root.
 */
const TOKENS = {
  'color-bg': ['#ffffff', '#15171c'],
  'color-surface': ['#f4f5f8', '#1e2129'],
  'color-surface-raised': ['#ffffff', '#272b35'],
  'color-text': ['#1a1c21', '#e9ebf0'],
  'color-text-muted': ['#4f5564', '#b0b6c3'],
  'color-border': ['#c9ceda', '#474d5c'],
  'color-accent': ['#2f43c9', '#9aa9ff'],
  'color-on-accent': ['#ffffff', '#10132a'],
  'color-accent-soft': ['#e6e9fb', '#2a3058'],
  'color-danger': ['#a8231b', '#ff9c92'],
  'color-on-danger': ['#ffffff', '#2a0907'],
  'color-danger-soft': ['#fbe8e6', '#3d1f1d'],
  'color-success': ['#176b34', '#7fdc9c'],
  'color-success-soft': ['#e3f4e8', '#1d3626'],
  'color-warning': ['#7a4f00', '#f3c768'],
  'color-warning-soft': ['#fbf0d9', '#3a2f16'],
  'color-focus': ['#2f43c9', '#9aa9ff'],
  radius: ['8px', '8px'],
  'font-family': [
    'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  ],
  'font-mono': [
    'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace',
    'ui-monospace, Menlo, monospace',
  ],
} as const satisfies Record<string, readonly [string, string]>;

export type TokenName = keyof typeof TOKENS;

/** Names of the public custom properties, for documentation and tests. */
export const TOKEN_NAMES = Object.keys(TOKENS).map((name) => `--vsc-${name}`);

function declarations(mode: 0 | 1): string {
  return Object.entries(TOKENS)
    .map(([name, values]) => `--_${name}: var(--vsc-${name}, ${values[mode]});`)
    .join('\n');
}

/** Token declarations for light (default) and dark (`theme="dark"`). Include first in every component's styles. */
export const themeStyles = css`
  :host {
    ${unsafeCSS(declarations(0))}
    color-scheme: light;
    color: var(--_color-text);
    background-color: var(--_color-bg);
    font-family: var(--_font-family);
    box-sizing: border-box;
  }
  :host([theme='dark']) {
    ${unsafeCSS(declarations(1))}
    color-scheme: dark;
  }
  :host([hidden]) {
    display: none !important;
  }
  *,
  *::before,
  *::after {
    box-sizing: inherit;
  }
`;

/** Shared controls: buttons, focus ring, visually hidden text, alerts and state badges. */
export const controlStyles = css`
  .visually-hidden {
    position: absolute !important;
    width: 1px;
    height: 1px;
    padding: 0;
    margin: -1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
    border: 0;
  }
  :focus-visible {
    outline: 3px solid var(--_color-focus);
    outline-offset: 2px;
  }
  button {
    font: inherit;
    font-size: 0.875rem;
    line-height: 1.25;
    padding: 0.4rem 0.85rem;
    border-radius: var(--_radius);
    border: 1px solid var(--_color-border);
    background: var(--_color-surface-raised);
    color: var(--_color-text);
    cursor: pointer;
  }
  button:hover:not(:disabled) {
    border-color: var(--_color-accent);
  }
  button:disabled {
    cursor: not-allowed;
    opacity: 0.55;
  }
  button.primary {
    background: var(--_color-accent);
    border-color: var(--_color-accent);
    color: var(--_color-on-accent);
    font-weight: 600;
  }
  button.danger {
    background: var(--_color-danger);
    border-color: var(--_color-danger);
    color: var(--_color-on-danger);
  }
  button.quiet {
    border-color: transparent;
    background: transparent;
  }
  .alert {
    border: 1px solid var(--_color-danger);
    background: var(--_color-danger-soft);
    color: var(--_color-text);
    border-radius: var(--_radius);
    padding: 0.6rem 0.85rem;
    margin: 0.75rem 0;
  }
  .alert code {
    font-family: var(--_font-mono);
    font-size: 0.8em;
  }
  .badge {
    display: inline-block;
    padding: 0.1rem 0.55rem;
    border-radius: 999px;
    font-size: 0.8rem;
    font-weight: 600;
    border: 1px solid currentColor;
    white-space: nowrap;
  }
  .badge[data-tone='success'] {
    color: var(--_color-success);
    background: var(--_color-success-soft);
  }
  .badge[data-tone='warning'] {
    color: var(--_color-warning);
    background: var(--_color-warning-soft);
  }
  .badge[data-tone='danger'] {
    color: var(--_color-danger);
    background: var(--_color-danger-soft);
  }
  .badge[data-tone='neutral'] {
    color: var(--_color-text-muted);
    background: var(--_color-surface);
  }
  @media (prefers-reduced-motion: reduce) {
    * {
      animation: none !important;
      transition: none !important;
    }
  }
`;
