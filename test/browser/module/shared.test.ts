import { expect } from '@open-wc/testing';
import { VSC_VERSION, define } from '../../../module/shared/define.ts';
import {
  formatCores,
  formatDateTime,
  formatMemory,
  formatNexCoin,
  formatStorage,
  shortId,
  stateLabel,
  stateTone,
} from '../../../module/shared/format.ts';
import { TOKEN_NAMES } from '../../../module/shared/theme.ts';

describe('define()', () => {
  it('defines a tag once and tolerates the same class or version again', () => {
    class A extends HTMLElement {
      static readonly vscVersion = VSC_VERSION;
    }
    class B extends HTMLElement {
      static readonly vscVersion = VSC_VERSION;
    }
    define('test-define-a', A);
    expect(customElements.get('test-define-a')).to.equal(A);
    expect(() => define('test-define-a', A)).not.to.throw();
    expect(() => define('test-define-a', B)).not.to.throw();
    expect(customElements.get('test-define-a')).to.equal(A);
  });

  it('warns (and keeps the first) when another version defined the tag', () => {
    class Old extends HTMLElement {
      static readonly vscVersion = '0.0.1';
    }
    class New extends HTMLElement {
      static readonly vscVersion = VSC_VERSION;
    }
    define('test-define-b', Old);
    const warnings: unknown[][] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      define('test-define-b', New);
    } finally {
      console.warn = original;
    }
    expect(warnings).to.have.length(1);
    expect(String(warnings[0]?.[0])).to.contain('0.0.1');
    expect(customElements.get('test-define-b')).to.equal(Old);
  });
});

describe('format helpers', () => {
  it('formats resources', () => {
    expect(formatCores(2000, 'en')).to.equal('2');
    expect(formatCores(500, 'en')).to.equal('0.5');
    expect(formatMemory(512, 'en')).to.equal('512 MiB');
    expect(formatMemory(4096, 'en')).to.equal('4 GiB');
    expect(formatMemory(1536, 'en')).to.equal('1.5 GiB');
    expect(formatStorage(25, 'en')).to.equal('25 GiB');
    expect(formatStorage(2048, 'en')).to.equal('2 TiB');
  });

  it('formats micro-NexCoin exactly, without floating-point error', () => {
    expect(formatNexCoin(1_000_000, 'en')).to.equal('1');
    expect(formatNexCoin(500_000, 'en')).to.equal('0.50');
    expect(formatNexCoin(2_500_000, 'en')).to.equal('2.50');
    expect(formatNexCoin(1_250_000, 'en')).to.equal('1.25');
    expect(formatNexCoin(125, 'en')).to.equal('0.000125');
    expect(formatNexCoin(300_000, 'en')).to.equal('0.30'); // 0.1 + 0.2 territory
    expect(formatNexCoin(15_000_000_000, 'en')).to.equal('15,000');
    expect(formatNexCoin(1_500_000, 'de')).to.equal('1,50');
    expect(formatNexCoin(-2_000_000, 'en')).to.equal('-2');
  });

  it('shortens ids and formats dates', () => {
    expect(shortId('0123456789abcdef')).to.equal('89abcdef');
    // Two time-ordered ids of the same minute share their start, not their end.
    expect(shortId('019abc12-3456-7def-8123-456789abcdef')).to.not.equal(
      shortId('019abc12-3457-7aaa-9bbb-0123456789aa'),
    );
    expect(shortId('abc')).to.equal('abc');
    expect(formatDateTime('2026-01-12T10:00:00Z', 'en-GB')).to.contain('2026');
    expect(formatDateTime('not a date')).to.equal('not a date');
  });

  it('labels states with a tone', () => {
    expect(stateLabel('active')).to.equal('Active');
    expect(stateTone('active')).to.equal('success');
    expect(stateTone('failed')).to.equal('danger');
    expect(stateTone('provisioning')).to.equal('warning');
    expect(stateTone('paused')).to.equal('neutral');
  });
});

describe('theme tokens', () => {
  it('are public --vsc-* custom properties', () => {
    expect(TOKEN_NAMES).to.include('--vsc-color-accent');
    expect(TOKEN_NAMES.every((n) => n.startsWith('--vsc-'))).to.equal(true);
  });
});
