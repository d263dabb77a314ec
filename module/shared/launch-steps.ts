import { css, html, type TemplateResult } from 'lit';

/** The steps of launching a desktop, in order. Each is shown only while it is really happening. */
export const LAUNCH_STEPS = [
  { id: 'authenticating', label: 'Authenticating' },
  { id: 'billing', label: 'Billing check' },
  { id: 'provisioning', label: 'Provisioning' },
  { id: 'connecting', label: 'Connecting' },
] as const;

export type LaunchStep = (typeof LAUNCH_STEPS)[number]['id'];

export function launchStepLabel(step: LaunchStep): string {
  return LAUNCH_STEPS.find((s) => s.id === step)?.label ?? step;
}

/**
 * An ordered list of the launch steps: those before `current` done, `current` in progress (or failed), the rest
 * pending. `current === 'done'` marks every step done.
 */
export function renderLaunchSteps(current: LaunchStep | 'done', failed = false): TemplateResult {
  const index = current === 'done' ? LAUNCH_STEPS.length : LAUNCH_STEPS.findIndex((s) => s.id === current);
  return html`<ol class="launch-steps" aria-label="Launch progress">
    ${LAUNCH_STEPS.map((step, i) => {
      const status = i < index ? 'done' : i === index ? (failed ? 'failed' : 'current') : 'pending';
      const suffix = status === 'done' ? 'done' : status === 'current' ? 'in progress' : status;
      return html`<li
        data-step=${step.id}
        data-status=${status}
        aria-current=${status === 'current' ? 'step' : 'false'}
      >
        <span class="marker" aria-hidden="true"></span>
        <span>${step.label}</span><span class="visually-hidden">, ${suffix}</span>
      </li>`;
    })}
  </ol>`;
}

export const launchStepsStyles = css`
  .launch-steps {
    list-style: none;
    margin: 0.75rem 0;
    padding: 0;
    display: flex;
    flex-wrap: wrap;
    gap: 0.5rem 1.25rem;
  }
  .launch-steps li {
    display: flex;
    align-items: center;
    gap: 0.45rem;
    color: var(--_color-text-muted);
  }
  .launch-steps li[data-status='current'],
  .launch-steps li[data-status='done'] {
    color: var(--_color-text);
  }
  .launch-steps li[data-status='current'] {
    font-weight: 600;
  }
  .launch-steps .marker {
    width: 1.1rem;
    height: 1.1rem;
    border-radius: 50%;
    border: 2px solid var(--_color-border);
    display: inline-grid;
    place-items: center;
    font-size: 0.7rem;
  }
  .launch-steps [data-status='done'] .marker {
    background: var(--_color-success);
    border-color: var(--_color-success);
  }
  .launch-steps [data-status='done'] .marker::after {
    content: '✓';
    color: var(--_color-bg);
    font-weight: 700;
  }
  .launch-steps [data-status='current'] .marker {
    border-color: var(--_color-accent);
    border-top-color: transparent;
    animation: vsc-spin 0.9s linear infinite;
  }
  .launch-steps [data-status='failed'] .marker {
    background: var(--_color-danger);
    border-color: var(--_color-danger);
  }
  .launch-steps [data-status='failed'] .marker::after {
    content: '!';
    color: var(--_color-bg);
    font-weight: 700;
  }
  @keyframes vsc-spin {
    to {
      transform: rotate(360deg);
    }
  }
`;
