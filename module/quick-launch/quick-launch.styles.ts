import { css } from 'lit';
import { launchStepsStyles } from '../shared/launch-steps.ts';
import { controlStyles, themeStyles } from '../shared/theme.ts';

export const styles = [
  themeStyles,
  controlStyles,
  launchStepsStyles,
  css`
    :host {
      display: block;
    }
    h2 {
      font-size: 1.25rem;
      margin: 0 0 0.25rem;
    }
    h3 {
      font-size: 1rem;
      margin: 0;
    }
    .intro,
    .hint {
      color: var(--_color-text-muted);
      font-size: 0.875rem;
    }
    .intro {
      margin: 0 0 1rem;
    }
    fieldset {
      border: 0;
      margin: 0;
      padding: 0;
      min-width: 0;
    }
    legend {
      font-weight: 600;
      margin-bottom: 0.5rem;
      padding: 0;
    }
    .tiers {
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr));
      gap: 0.75rem;
    }
    .tier {
      position: relative;
      display: grid;
      grid-template-columns: auto 1fr;
      align-items: center;
      gap: 0.25rem 0.5rem;
      padding: 0.85rem 1rem;
      border: 2px solid var(--_color-border);
      border-radius: var(--_radius);
      background: var(--_color-surface-raised);
    }
    .tier:hover {
      border-color: var(--_color-accent);
    }
    .tier[data-selected] {
      border-color: var(--_color-accent);
      background: var(--_color-accent-soft);
    }
    .tier:has(input:focus-visible) {
      outline: 3px solid var(--_color-focus);
      outline-offset: 2px;
    }
    .tier input {
      margin: 0;
      accent-color: var(--_color-accent);
    }
    .tier input:focus-visible {
      outline: none;
    }
    .tier label {
      font-weight: 700;
      cursor: pointer;
    }
    /* The whole card selects the tier. */
    .tier label::after {
      content: '';
      position: absolute;
      inset: 0;
    }
    fieldset:disabled .tier label {
      cursor: not-allowed;
    }
    .specs {
      grid-column: 1 / -1;
      list-style: none;
      margin: 0.25rem 0 0;
      padding: 0;
      font-size: 0.875rem;
      display: grid;
      gap: 0.15rem;
    }
    .key {
      display: inline-block;
      min-width: 4.5rem;
      color: var(--_color-text-muted);
    }
    .price {
      margin-top: 0.35rem;
      font-weight: 600;
    }
    .list-price {
      margin-right: 0.35rem;
      font-weight: 400;
      color: var(--_color-text-muted);
    }
    .price-label {
      font-size: 0.8rem;
      font-weight: 600;
      color: var(--_color-accent);
    }
    .actions {
      display: flex;
      align-items: center;
      gap: 0.75rem;
      margin-top: 1rem;
    }
    .actions button {
      padding: 0.55rem 1.5rem;
    }
    .progress {
      margin-top: 1.25rem;
      padding: 0.85rem 1rem;
      border: 1px solid var(--_color-border);
      border-radius: var(--_radius);
      background: var(--_color-surface);
    }
    .alert-actions {
      display: flex;
      gap: 0.5rem;
      margin-top: 0.5rem;
    }
    .loading {
      color: var(--_color-text-muted);
    }
    .plan {
      margin-top: 0.2rem;
      font-size: 0.8rem;
      color: var(--_color-success);
    }
    .plan[data-allowed='false'] {
      color: var(--_color-text-muted);
    }
    .tier[data-unavailable] {
      border-style: dashed;
    }
    .tier[data-unavailable]:hover {
      border-color: var(--_color-border);
    }
    .tier[data-unavailable] label {
      cursor: not-allowed;
    }
    .templates {
      margin-top: 1rem;
    }
    .template {
      display: inline-flex;
      align-items: center;
      gap: 0.45rem;
      padding: 0.45rem 0.85rem;
      border: 2px solid var(--_color-accent);
      border-radius: var(--_radius);
      background: var(--_color-accent-soft);
      cursor: pointer;
    }
    .template input {
      margin: 0;
      accent-color: var(--_color-accent);
    }
    .estimate {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.5rem 0.75rem;
      margin-top: 1rem;
    }
    .estimate label {
      font-weight: 600;
    }
    .estimate input {
      width: 5rem;
      font: inherit;
      padding: 0.3rem 0.5rem;
      border: 1px solid var(--_color-border);
      border-radius: var(--_radius);
      background: var(--_color-surface-raised);
      color: var(--_color-text);
    }
    .estimate p {
      margin: 0;
      font-size: 0.9rem;
    }
  `,
];
