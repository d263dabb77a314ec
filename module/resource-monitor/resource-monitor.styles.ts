import { css } from 'lit';
import { controlStyles, themeStyles } from '../shared/theme.ts';
import { chartStyles } from './chart.ts';

export const styles = [
  themeStyles,
  controlStyles,
  chartStyles,
  css`
    :host {
      display: block;
    }
    h2 {
      font-size: 1.25rem;
      margin: 0;
    }
    h3 {
      font-size: 1rem;
      margin: 1.25rem 0 0.5rem;
    }
    .live {
      display: flex;
      align-items: center;
      gap: 0.4rem;
      margin: 0.35rem 0 0;
      font-size: 0.8rem;
      color: var(--_color-text-muted);
    }
    .live .dot {
      width: 0.55rem;
      height: 0.55rem;
      border-radius: 50%;
      background: var(--_color-warning);
    }
    .live[data-live='on'] .dot {
      background: var(--_color-success);
    }
    .controls {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.75rem 1.5rem;
      margin-top: 0.85rem;
    }
    .controls label,
    legend {
      font-weight: 600;
    }
    select {
      font: inherit;
      font-size: 0.9rem;
      padding: 0.35rem 0.5rem;
      border: 1px solid var(--_color-border);
      border-radius: var(--_radius);
      background: var(--_color-surface-raised);
      color: var(--_color-text);
      margin-left: 0.4rem;
    }
    fieldset {
      border: 0;
      margin: 0;
      padding: 0;
      display: flex;
      align-items: center;
      gap: 0.4rem;
    }
    legend {
      float: left;
      margin-right: 0.4rem;
      padding: 0;
    }
    .segment {
      display: inline-flex;
      align-items: center;
      gap: 0.3rem;
      padding: 0.25rem 0.65rem;
      border: 1px solid var(--_color-border);
      border-radius: var(--_radius);
      cursor: pointer;
      font-size: 0.875rem;
    }
    .segment:has(input:checked) {
      border-color: var(--_color-accent);
      background: var(--_color-accent-soft);
      font-weight: 600;
    }
    .segment:has(input:focus-visible) {
      outline: 3px solid var(--_color-focus);
      outline-offset: 2px;
    }
    .segment input {
      margin: 0;
      accent-color: var(--_color-accent);
    }
    .charts {
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr));
      gap: 0.75rem;
    }
    .quota {
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr));
      gap: 0.5rem 1.25rem;
      margin: 0;
    }
    .quota div {
      display: grid;
      gap: 0.2rem;
    }
    .quota dt {
      font-size: 0.875rem;
    }
    .quota dd {
      margin: 0;
      font-size: 0.8rem;
      color: var(--_color-text-muted);
      font-variant-numeric: tabular-nums;
    }
    meter {
      width: 100%;
      height: 0.8rem;
    }
    table {
      width: 100%;
      border-collapse: collapse;
      font-size: 0.85rem;
    }
    .table-wrap {
      overflow-x: auto;
    }
    th,
    td {
      text-align: left;
      padding: 0.4rem 0.5rem;
      border-bottom: 1px solid var(--_color-border);
      white-space: nowrap;
      font-variant-numeric: tabular-nums;
    }
    thead th {
      font-size: 0.75rem;
      text-transform: uppercase;
      letter-spacing: 0.03em;
      color: var(--_color-text-muted);
    }
    tbody th {
      font-weight: 400;
    }
    code {
      font-family: var(--_font-mono);
    }
    .empty,
    .muted {
      color: var(--_color-text-muted);
    }
  `,
];
