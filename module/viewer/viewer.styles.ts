import { css } from 'lit';
import { launchStepsStyles } from '../shared/launch-steps.ts';
import { controlStyles, themeStyles } from '../shared/theme.ts';

export const styles = [
  themeStyles,
  controlStyles,
  launchStepsStyles,
  css`
    :host {
      display: flex;
      flex-direction: column;
      gap: 0.5rem;
      min-width: 0;
    }
    .toolbar {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.5rem;
      padding: 0.5rem;
      border-radius: var(--_radius);
      background: var(--_color-surface);
      border: 1px solid var(--_color-border);
    }
    .title {
      display: inline-flex;
      align-items: center;
      gap: 0.5rem;
      font-weight: 600;
    }
    .title code {
      font-family: var(--_font-mono);
    }
    .tier {
      font-weight: 400;
      color: var(--_color-text-muted);
      text-transform: capitalize;
    }
    .spacer {
      flex: 1;
    }
    .confirm {
      display: inline-flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.5rem;
    }
    .status {
      margin: 0;
      font-size: 0.875rem;
      color: var(--_color-text-muted);
    }
    .status[data-status='error'] {
      color: var(--_color-danger);
    }
    .screen {
      position: relative;
      width: 100%;
      aspect-ratio: var(--fb-aspect, 16 / 10);
      max-height: calc(100vh - 12rem);
      min-height: 12rem;
      background: #000;
      border-radius: var(--_radius);
      overflow: hidden;
    }
    canvas {
      position: absolute;
      inset: 0;
      width: 100%;
      height: 100%;
      object-fit: contain;
      display: block;
      touch-action: none;
      cursor: default;
    }
    .screen[data-scaling='none'] {
      overflow: auto;
    }
    .screen[data-scaling='none'] canvas {
      position: static;
      width: auto;
      height: auto;
      object-fit: none;
    }
    .screen[data-scaling='remote'] {
      aspect-ratio: auto;
      height: calc(100vh - 12rem);
    }
    .screen:fullscreen {
      max-height: none;
      height: 100vh;
      border-radius: 0;
      aspect-ratio: auto;
    }
    .control {
      display: inline-flex;
      align-items: center;
      gap: 0.25rem;
      font-size: 0.8rem;
    }
    .clipboard {
      display: flex;
      flex-wrap: wrap;
      gap: 0.5rem;
      align-items: flex-end;
    }
    .clipboard textarea {
      flex: 1 1 20rem;
      font: inherit;
    }
    .clipboard .note {
      font-size: 0.8rem;
      color: var(--_color-text-muted);
    }
    .stats {
      position: absolute;
      top: 0.5rem;
      right: 0.5rem;
      margin: 0;
      padding: 0.4rem 0.6rem;
      display: grid;
      grid-template-columns: auto auto;
      gap: 0.1rem 0.6rem;
      font:
        0.75rem/1.3 ui-monospace,
        monospace;
      color: #f2f3f7;
      background: rgb(0 0 0 / 0.65);
      border-radius: 4px;
      pointer-events: none;
    }
    .stats dd {
      margin: 0;
      text-align: right;
    }
    canvas:focus-visible {
      outline: 3px solid var(--_color-focus);
      outline-offset: -3px;
    }
    .overlay {
      position: absolute;
      inset: 0;
      display: flex;
      flex-direction: column;
      align-items: center;
      justify-content: center;
      gap: 0.75rem;
      color: #f2f3f7;
      background: rgb(0 0 0 / 0.6);
      text-align: center;
      padding: 1rem;
      --_color-text: #f2f3f7;
      --_color-text-muted: #c4c8d4;
    }
    .spinner {
      width: 2rem;
      height: 2rem;
      border-radius: 50%;
      border: 3px solid #c4c8d4;
      border-top-color: transparent;
      animation: vsc-spin 0.9s linear infinite;
    }
    .hint {
      margin: 0;
      font-size: 0.8rem;
      color: var(--_color-text-muted);
    }
  `,
];
