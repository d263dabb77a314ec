import { css } from 'lit';
import { controlStyles, themeStyles } from '../shared/theme.ts';

export const styles = [
  themeStyles,
  controlStyles,
  css`
    :host {
      display: block;
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
      flex-wrap: wrap;
      align-items: center;
      justify-content: space-between;
      gap: 0.25rem 0.5rem;
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
    .actions {
      display: flex;
      gap: 0.35rem;
    }
    /* The removal question takes the whole item's width under the name, as Terminate's does in its row. */
    .confirm {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.35rem;
      flex-basis: 100%;
      white-space: normal;
    }
    .error {
      color: var(--_color-danger);
      font-size: 0.8rem;
      margin: 0.4rem 0 0;
    }
  `,
];
