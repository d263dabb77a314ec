import { css } from 'lit';
import { controlStyles, themeStyles } from '../shared/theme.ts';

export const styles = [
  themeStyles,
  controlStyles,
  css`
    :host {
      display: block;
      max-width: 44rem;
    }
    h2 {
      font-size: 1.25rem;
      margin: 0 0 0.25rem;
    }
    .intro,
    .hint,
    .meta {
      color: var(--_color-text-muted);
      font-size: 0.875rem;
    }
    .intro {
      margin: 0 0 1rem;
    }
    form {
      display: grid;
      gap: 1rem;
    }
    .field {
      display: grid;
      gap: 0.3rem;
    }
    .field > label,
    legend {
      font-weight: 600;
      padding: 0;
    }
    fieldset {
      border: 0;
      margin: 0;
      padding: 0;
      min-width: 0;
      display: grid;
      gap: 0.3rem;
    }
    fieldset[disabled] {
      opacity: 0.75;
    }
    select,
    input[type='number'] {
      font: inherit;
      font-size: 0.9rem;
      padding: 0.35rem 0.5rem;
      border: 1px solid var(--_color-border);
      border-radius: var(--_radius);
      background: var(--_color-surface-raised);
      color: var(--_color-text);
      max-width: 20rem;
    }
    input[type='number'] {
      width: 7rem;
    }
    .choice {
      display: inline-flex;
      align-items: center;
      gap: 0.4rem;
      margin-right: 1rem;
    }
    input[type='radio'],
    input[type='checkbox'] {
      accent-color: var(--_color-accent);
      margin: 0;
    }
    .hint {
      margin: 0;
    }
    .actions {
      display: flex;
      flex-wrap: wrap;
      gap: 0.5rem;
      align-items: center;
    }
    .offline {
      border: 1px solid var(--_color-warning);
      background: var(--_color-warning-soft);
      border-radius: var(--_radius);
      padding: 0.6rem 0.85rem;
      margin: 0 0 1rem;
    }
    .status {
      margin: 0;
      font-size: 0.875rem;
    }
  `,
];
