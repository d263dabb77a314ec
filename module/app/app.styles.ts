import { css } from 'lit';
import { controlStyles, themeStyles } from '../shared/theme.ts';

export const styles = [
  themeStyles,
  controlStyles,
  css`
    :host {
      display: block;
      background: var(--_color-bg);
      padding: 1rem 1.25rem 1.5rem;
      line-height: 1.45;
    }
    /* Not a <header>: inside a host's page it must not become a second banner landmark. */
    .header {
      display: flex;
      align-items: baseline;
      flex-wrap: wrap;
      gap: 0.75rem;
      margin-bottom: 0.75rem;
    }
    h1 {
      font-size: 1.5rem;
      margin: 0;
    }
    .module {
      font-size: 0.8rem;
      color: var(--_color-text-muted);
    }
    [role='tablist'] {
      display: flex;
      gap: 0.25rem;
      border-bottom: 1px solid var(--_color-border);
      margin-bottom: 1rem;
    }
    [role='tab'] {
      border: 0;
      border-bottom: 3px solid transparent;
      border-radius: var(--_radius) var(--_radius) 0 0;
      background: transparent;
      padding: 0.55rem 1rem;
      font-size: 0.95rem;
      color: var(--_color-text-muted);
    }
    [role='tab']:hover {
      color: var(--_color-text);
      background: var(--_color-surface);
    }
    [role='tab'][aria-selected='true'] {
      color: var(--_color-text);
      border-bottom-color: var(--_color-accent);
      font-weight: 600;
    }
    [role='tabpanel']:focus {
      outline: none;
    }
    [role='tabpanel']:focus-visible {
      outline: 3px solid var(--_color-focus);
      outline-offset: 4px;
    }
    [role='tablist'] {
      overflow-x: auto;
    }
    [role='tab'] {
      white-space: nowrap;
    }
    .loading {
      color: var(--_color-text-muted);
    }
  `,
];
