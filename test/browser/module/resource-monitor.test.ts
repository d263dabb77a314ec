import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import type { MetricsSample } from '../../../protocol/live-events.ts';
import { LiveEvents } from '../../../module/api/live-events.ts';
import '../../../module/resource-monitor/resource-monitor.ts';
import type { VscResourceMonitor } from '../../../module/resource-monitor/resource-monitor.component.ts';
import { formatRate } from '../../../module/resource-monitor/resource-monitor.component.ts';
import { BUCKETS, bucketed, combine, niceMax, summarize } from '../../../module/resource-monitor/series.ts';
import { SessionsStore, liveFeed } from '../../../module/state/sessions-store.ts';
import { FakeApi } from './support/fake-api.ts';

interface Setup {
  el: VscResourceMonitor;
  fake: FakeApi;
  store: SessionsStore;
  live: LiveEvents;
}

async function setup(fake = new FakeApi()): Promise<Setup> {
  const api = fake.client();
  const live = new LiveEvents({ api, initialBackoffMs: 20, maxBackoffMs: 50 });
  const store = new SessionsStore({ api, changeFeed: liveFeed(live, 50) });
  const el = await fixture<VscResourceMonitor>(
    html`<vsc-resource-monitor .api=${api} .store=${store} .live=${live}></vsc-resource-monitor>`,
  );
  await waitUntil(() => store.value.live, 'live stream open');
  return { el, fake, store, live };
}

const q = <T extends Element = HTMLElement>(el: VscResourceMonitor, selector: string): T | null =>
  el.shadowRoot?.querySelector<T>(selector) ?? null;

const now = (el: VscResourceMonitor, metric: string): string =>
  q(el, `[data-metric="${metric}"] [data-now]`)?.textContent?.trim() ?? '';

/** History samples every 5 s up to now. */
function history(
  fake: FakeApi,
  sessionId: string,
  count: number,
  make: (i: number) => Partial<MetricsSample>,
): void {
  const list: MetricsSample[] = [];
  for (let i = 0; i < count; i++) {
    list.push({
      sessionId,
      at: new Date(Date.now() - (count - i) * 5000).toISOString(),
      cpuPercent: 0,
      memoryMiB: 0,
      gpuPercent: null,
      networkTxBytesPerSec: 0,
      networkRxBytesPerSec: 0,
      streamFps: 0,
      streamLatencyMs: null,
      ...make(i),
    });
  }
  fake.metrics.set(sessionId, list);
}

describe('<vsc-resource-monitor>', () => {
  it('fills the window from the history, then follows pushed samples', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active', tier: 'standard' });
    history(fake, a.sessionId, 10, (i) => ({ cpuPercent: 10 + i, memoryMiB: 1000 }));
    const { el } = await setup(fake);
    await waitUntil(() => now(el, 'cpu') === '19 %', 'history drawn');
    expect(fake.requests.some((r) => r.path === `/sessions/${a.sessionId}/metrics`)).to.equal(true);
    const path = q(el, '[data-metric="cpu"] path.line')?.getAttribute('d') ?? '';
    expect(path).to.match(/^M/);
    fake.pushMetrics({
      sessionId: a.sessionId,
      cpuPercent: 77,
      memoryMiB: 1200,
      streamFps: 24,
      streamLatencyMs: 18,
    });
    await waitUntil(() => now(el, 'cpu') === '77 %', 'pushed sample drawn');
    expect(now(el, 'fps')).to.equal('24 fps');
    expect(now(el, 'latency')).to.equal('18 ms');
    await expect(el).to.be.accessible();
  });

  it('shows totals across sessions and each session on its own', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    const b = fake.seed({ state: 'paused', tier: 'basic' });
    fake.seed({ state: 'terminated' });
    const { el } = await setup(fake);
    await waitUntil(() => el.metricsStore?.value.quota !== null);
    fake.pushMetrics({ sessionId: a.sessionId, cpuPercent: 30, memoryMiB: 1024, networkTxBytesPerSec: 2000 });
    fake.pushMetrics({ sessionId: b.sessionId, cpuPercent: 12, memoryMiB: 512, networkTxBytesPerSec: 500 });
    await waitUntil(() => now(el, 'cpu') === '42 %', 'total is the sum');
    expect(now(el, 'memory')).to.equal('1.5 GiB');
    expect(now(el, 'network')).to.contain('Sent 2.5 kB/s');
    expect(q(el, '#charts-heading')?.textContent).to.contain('All sessions (total)');
    const rows = el.shadowRoot?.querySelectorAll('tr[data-session-id]') ?? [];
    expect(rows.length).to.equal(2, 'per-session table: live sessions only');

    q<HTMLButtonElement>(el, `tr[data-session-id="${b.sessionId}"] [data-action="show"]`)?.click();
    await el.updateComplete;
    expect(el.scope).to.equal(b.sessionId);
    expect(now(el, 'cpu')).to.equal('12 %');
    expect(q(el, '#charts-heading')?.textContent).to.contain(`Session ${b.sessionId.slice(-8)}`);
    const select = q<HTMLSelectElement>(el, '[data-control="scope"]');
    if (!select) throw new Error('no scope select');
    select.value = 'total';
    select.dispatchEvent(new Event('change'));
    await el.updateComplete;
    expect(now(el, 'cpu')).to.equal('42 %');
  });

  it('changes the history window (1, 5, 15 min) and reads a longer history when it grows', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    const { el } = await setup(fake);
    await waitUntil(() => fake.count('GET', `/sessions/${a.sessionId}/metrics`) === 1);
    const radios = el.shadowRoot?.querySelectorAll<HTMLInputElement>('input[name="window"]') ?? [];
    expect([...radios].map((r) => r.value)).to.deep.equal(['60', '300', '900']);
    expect([...radios].find((r) => r.checked)?.value).to.equal('300');
    radios[2]?.click();
    await el.updateComplete;
    expect(el.windowSeconds).to.equal(900);
    await waitUntil(() => fake.count('GET', `/sessions/${a.sessionId}/metrics`) === 2);
    expect(q(el, '#charts-heading')?.textContent).to.contain('the last 15 minutes');
    radios[0]?.click();
    await el.updateComplete;
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.count('GET', `/sessions/${a.sessionId}/metrics`)).to.equal(
      2,
      'a shorter window needs no request',
    );
  });

  it('shows quota usage against the limits, and refreshes it when a session changes', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    fake.seed({ state: 'active' });
    fake.quotaLimits = { ...fake.quotaLimits, maxLiveSessionsPerUser: 2 };
    const { el } = await setup(fake);
    await waitUntil(() => q(el, '[data-quota="user-sessions"]'));
    const text = q(el, '[data-quota="user-sessions"]')?.textContent ?? '';
    expect(text).to.contain('2 of 2');
    expect(text).to.contain('limit reached');
    const meter = q<HTMLMeterElement>(el, '[data-quota="user-sessions"] meter');
    expect(meter?.value).to.equal(2);
    expect(meter?.max).to.equal(2);
    expect(q(el, '[data-quota="tenant-cpu"]')?.textContent).to.contain('4 of 32 cores');
    // The user's own share of CPU and memory against their own limits (both sessions are the user's).
    expect(q(el, '[data-quota="user-cpu"]')?.textContent).to.contain('4 of 16 cores');
    expect(q(el, '[data-quota="user-memory"]')?.textContent).to.match(/of 64 GiB/);
    const quotaRequests = fake.count('GET', '/quota');
    fake.set(a, 'terminated');
    await waitUntil(() => fake.count('GET', '/quota') > quotaRequests, 'quota re-read on a session change');
    await waitUntil(() => (q(el, '[data-quota="user-sessions"]')?.textContent ?? '').includes('1 of 2'));
    await expect(el).to.be.accessible();
  });

  it('gives every chart a text alternative and a table of its values', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    history(fake, a.sessionId, 12, (i) => ({ cpuPercent: i * 5, memoryMiB: 900, streamFps: 30 }));
    const { el } = await setup(fake);
    await waitUntil(() => now(el, 'cpu') === '55 %');
    const svg = q(el, '[data-metric="cpu"] svg');
    expect(svg?.getAttribute('role')).to.equal('img');
    expect(svg?.getAttribute('aria-label')).to.match(
      /^CPU over the last 5 minutes\. CPU: now 55 %, lowest 0 %, highest 55 %\.$/,
    );
    const details = q<HTMLDetailsElement>(el, '[data-metric="cpu"] details');
    expect(details?.querySelector('summary')?.textContent).to.contain('table of values');
    const cells = [...(details?.querySelectorAll('tbody td') ?? [])].map((td) => td.textContent?.trim());
    expect(cells.at(-1)).to.equal('55 %');
    expect(q(el, '[data-metric="gpu"] .chart-empty')?.textContent).to.contain('No GPU');
    expect(q(el, '[data-metric="latency"] .chart-empty')?.textContent).to.contain('Not measured yet');
    details?.setAttribute('open', '');
    await expect(el).to.be.accessible();
  });

  it('shows the empty state without running sessions', async () => {
    const { el } = await setup();
    await waitUntil(() => q(el, '.empty'));
    expect(q(el, '.empty')?.textContent).to.contain('No running sessions');
    await expect(el).to.be.accessible();
  });

  it('shows history and quota errors', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    fake.failures.set(`/sessions/${a.sessionId}/metrics`, 'INTERNAL');
    fake.failures.set('/quota', 'NOT_READY');
    const { el } = await setup(fake);
    await waitUntil(() => el.shadowRoot?.querySelectorAll('[role="alert"]').length === 2);
    const codes = [...(el.shadowRoot?.querySelectorAll('[role="alert"]') ?? [])].map((a) =>
      a.getAttribute('data-code'),
    );
    expect(codes).to.deep.equal(['INTERNAL', 'NOT_READY']);
    await expect(el).to.be.accessible();
    fake.failures.clear();
    q<HTMLButtonElement>(el, '[data-action="retry-quota"]')?.click();
    await waitUntil(() => q(el, '[data-quota="user-sessions"]'));
  });

  it('re-reads the history while the live stream is down', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    const api = fake.client();
    const live = new LiveEvents({ api, initialBackoffMs: 20, maxBackoffMs: 40 });
    const store = new SessionsStore({ api, changeFeed: liveFeed(live, 40) });
    const el = await fixture<VscResourceMonitor>(
      html`<vsc-resource-monitor .api=${api} .store=${store} .live=${live}></vsc-resource-monitor>`,
    );
    await waitUntil(() => fake.count('GET', `/sessions/${a.sessionId}/metrics`) === 1);
    (el.metricsStore as unknown as { fallbackPollMs: number }).fallbackPollMs = 40;
    fake.failures.set('/events', 'INTERNAL');
    fake.dropEventStreams();
    await waitUntil(() => q(el, '.live[data-live="off"]'));
    expect(q(el, '.live')?.textContent).to.contain('interrupted');
    el.remove();
    store.dispose();
  });

  it('is accessible in the dark theme, and releases everything when removed', async () => {
    const fake = new FakeApi();
    const a = fake.seed({ state: 'active' });
    fake.pushMetrics({ sessionId: a.sessionId, cpuPercent: 5, memoryMiB: 100 });
    const { el, store, live } = await setup(fake);
    el.theme = 'dark';
    await waitUntil(() => q(el, '[data-quota]'));
    await expect(el).to.be.accessible();
    const metrics = el.metricsStore;
    el.remove();
    expect(metrics?.disposed).to.equal(true);
    expect(metrics?.observerCount).to.equal(0);
    store.dispose();
    await waitUntil(() => live.connections === 0 && fake.eventStreams.size === 0);
  });
});

describe('resource series', () => {
  const sample = (t: number, cpu: number): MetricsSample => ({
    sessionId: 's',
    at: new Date(t).toISOString(),
    cpuPercent: cpu,
    memoryMiB: 0,
    gpuPercent: null,
    networkTxBytesPerSec: 0,
    networkRxBytesPerSec: 0,
    streamFps: 0,
    streamLatencyMs: null,
  });

  it('puts samples on a fixed grid, carries a value briefly, leaves gaps after', () => {
    const from = 0;
    const to = 600_000; // 10 min → 10 s buckets
    const points = bucketed([sample(5_000, 10), sample(25_000, 20)], (s) => s.cpuPercent, from, to);
    expect(points).to.have.length(BUCKETS);
    expect(points.slice(0, 5).map((p) => p.v)).to.deep.equal([10, 10, 20, 20, null]);
  });

  it('combines sessions by sum or mean, skipping gaps', () => {
    const a = [
      { t: 1, v: 1 },
      { t: 2, v: null },
      { t: 3, v: null },
    ];
    const b = [
      { t: 1, v: 3 },
      { t: 2, v: 4 },
      { t: 3, v: null },
    ];
    expect(combine([a, b], 'sum').map((p) => p.v)).to.deep.equal([4, 4, null]);
    expect(combine([a, b], 'mean').map((p) => p.v)).to.deep.equal([2, 4, null]);
    expect(summarize(combine([a, b], 'sum'))).to.deep.equal({ now: 4, min: 4, max: 4, mean: 4 });
  });

  it('rounds axis maxima and formats rates', () => {
    expect(niceMax(0, 100)).to.equal(100);
    expect(niceMax(130, 100)).to.equal(200);
    expect(niceMax(2400)).to.equal(2500);
    expect(formatRate(999)).to.equal('999 B/s');
    expect(formatRate(2500)).to.equal('2.5 kB/s');
    expect(formatRate(12_345_678)).to.equal('12.3 MB/s');
  });
});
