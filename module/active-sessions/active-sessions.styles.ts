import { css } from 'lit';
import { controlStyles, themeStyles } from '../shared/theme.ts';

export const styles = [
  themeStyles,
  controlStyles,
  css`
    :host {
      display: block;
    }
    .header {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.75rem;
    }
    h2 {
      font-size: 1.25rem;
      margin: 0;
      flex: 1;
    }
    .toggle {
      display: inline-flex;
      align-items: center;
      gap: 0.35rem;
      font-size: 0.875rem;
      color: var(--_color-text-muted);
    }
    .toggle input {
      accent-color: var(--_color-accent);
    }
    .table-wrap {
      overflow-x: auto;
      margin-top: 0.75rem;
    }
    /* Fixed columns: rates, uptimes and costs filling in never move the table around (no layout shift). */
    table {
      width: 100%;
      min-width: 73.5rem;
      table-layout: fixed;
      border-collapse: collapse;
      font-size: 0.9rem;
    }
    col.session {
      width: 6.5rem;
    }
    col.thumb {
      width: 7.5rem;
    }
    col.tier {
      width: 5.5rem;
    }
    .thumb-box {
      position: relative;
      display: block;
      width: 96px;
      height: 60px;
      border-radius: calc(var(--_radius) / 2);
      background: var(--_color-surface);
      border: 1px solid var(--_color-border);
      overflow: hidden;
    }
    .thumb-box img {
      display: block;
      width: 100%;
      height: 100%;
      object-fit: contain;
      background: #000;
    }
    .thumb-box[data-thumbnail='paused'] img {
      filter: grayscale(0.8);
      opacity: 0.75;
    }
    .thumb-badge {
      position: absolute;
      right: 2px;
      bottom: 2px;
      padding: 0 0.3rem;
      border-radius: 0.25rem;
      font-size: 0.7rem;
      background: var(--_color-surface-raised);
      color: var(--_color-text);
    }
    col.created {
      width: 12.5rem;
    }
    col.uptime {
      width: 7rem;
    }
    col.cost {
      width: 9.5rem;
    }
    col.actions {
      width: 22.5rem;
    }
    .toggle .count {
      display: inline-block;
      min-width: 4ch;
      font-variant-numeric: tabular-nums;
    }
    th,
    td {
      text-align: left;
      padding: 0.55rem 0.6rem;
      border-bottom: 1px solid var(--_color-border);
      vertical-align: middle;
    }
    thead th {
      font-size: 0.8rem;
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
    .tier {
      text-transform: capitalize;
    }
    .reason {
      display: block;
      font-size: 0.8rem;
      color: var(--_color-text-muted);
      margin-top: 0.2rem;
    }
    tr[data-state='terminated'] {
      color: var(--_color-text-muted);
    }
    .actions {
      white-space: nowrap;
      text-align: right;
    }
    .actions button + button {
      margin-left: 0.35rem;
    }
    .confirm {
      display: inline-flex;
      flex-wrap: wrap;
      justify-content: flex-end;
      align-items: center;
      gap: 0.4rem;
      white-space: normal;
    }
    .empty {
      margin-top: 1rem;
      color: var(--_color-text-muted);
    }
    .live {
      display: flex;
      align-items: center;
      gap: 0.4rem;
      margin: 0.5rem 0 0;
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
    .uptime,
    .cost {
      white-space: nowrap;
      font-variant-numeric: tabular-nums;
    }
    button[aria-disabled='true'] {
      cursor: not-allowed;
      opacity: 0.6;
    }
    .note {
      font-size: 0.8rem;
      color: var(--_color-text-muted);
      margin: 0.5rem 0 0;
    }
  `,
];
