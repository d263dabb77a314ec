import { css } from 'lit';
import { controlStyles, themeStyles } from '../shared/theme.ts';

export const styles = [
  themeStyles,
  controlStyles,
  css`
    :host {
      display: block;
      container-type: inline-size;
    }
    .layout {
      display: grid;
      grid-template-columns: minmax(0, 1fr) 14rem;
      gap: 0.75rem;
      align-items: start;
    }
    @container (max-width: 40rem) {
      .layout {
        grid-template-columns: minmax(0, 1fr);
      }
    }
    aside {
      border: 1px solid var(--_color-border);
      border-radius: var(--_radius);
      background: var(--_color-surface);
      padding: 0.65rem 0.85rem;
    }
    h2 {
      font-size: 0.95rem;
      margin: 0 0 0.5rem;
    }
    ul {
      list-style: none;
      margin: 0;
      padding: 0;
      display: grid;
      gap: 0.4rem;
    }
    li {
      display: flex;
      justify-content: space-between;
      gap: 0.5rem;
      font-size: 0.875rem;
    }
    .who {
      overflow: hidden;
      text-overflow: ellipsis;
    }
    .role {
      color: var(--_color-text-muted);
      font-size: 0.8rem;
    }
    .you {
      font-size: 0.8rem;
      margin: 0.75rem 0 0;
      color: var(--_color-text-muted);
    }
  `,
];
