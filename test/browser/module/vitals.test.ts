import { expect, waitUntil } from '@open-wc/testing';
import type { Metric } from 'web-vitals';
import type { WebVital } from '../../../protocol/resources.ts';
import { startVitals, toWebVital, type WebVitalsLib } from '../../../module/vitals/report-vitals.ts';
import { FakeApi } from './support/fake-api.ts';

type Name = Metric['name'];

/** A stand-in for web-vitals: the test reports metrics by hand. */
function fakeLib(): {
  load: () => Promise<WebVitalsLib>;
  report: (name: Name, value: number, id?: string) => void;
  registrations: () => number;
} {
  const listeners = new Map<Name, ((m: Metric) => void)[]>();
  let registrations = 0;
  const on = (name: Name) => (cb: (m: Metric) => void) => {
    registrations++;
    listeners.set(name, [...(listeners.get(name) ?? []), cb]);
  };
  const lib: WebVitalsLib = {
    onLCP: on('LCP'),
    onINP: on('INP'),
    onCLS: on('CLS'),
    onFCP: on('FCP'),
    onTTFB: on('TTFB'),
  };
  return {
    load: () => Promise.resolve(lib),
    registrations: () => registrations,
    report(name, value, id = `v5-${name}`) {
      const metric = {
        name,
        value,
        id,
        rating: 'good',
        delta: value,
        entries: [],
        navigationType: 'navigate',
      } as unknown as Metric;
      for (const cb of listeners.get(name) ?? []) cb(metric);
    },
  };
}

const posted = (fake: FakeApi): WebVital[] =>
  fake.requests.filter((r) => r.path === '/vitals').map((r) => r.body as WebVital);

describe('web vitals reporter', () => {
  it('batches measurements and sends them on pagehide as keepalive requests with the token', async () => {
    const fake = new FakeApi();
    const api = fake.client();
    await api.token(); // the module has talked to the API before; the token is cached
    const lib = fakeLib();
    const reporter = startVitals(api, { load: lib.load });
    await Promise.resolve();
    lib.report('TTFB', 120);
    lib.report('FCP', 480);
    lib.report('CLS', 0.01);
    lib.report('CLS', 0.02); // the same CLS, grown: replaces the first value
    expect(reporter.pending).to.equal(3);
    expect(posted(fake)).to.deep.equal([], 'nothing sent before the page goes away');
    window.dispatchEvent(new PageTransitionEvent('pagehide'));
    await waitUntil(() => posted(fake).length === 3);
    const bodies = posted(fake);
    expect(bodies.map((b) => b.name)).to.deep.equal(['TTFB', 'FCP', 'CLS']);
    expect(bodies[2]).to.deep.equal({
      name: 'CLS',
      value: 0.02,
      rating: 'good',
      id: 'v5-CLS',
      navigationType: 'navigate',
    });
    const requests = fake.requests.filter((r) => r.path === '/vitals');
    expect(requests.every((r) => r.keepalive)).to.equal(true);
    expect(requests[0]?.headers.get('authorization')).to.equal('Bearer token-alice');
    expect(requests[0]?.headers.get('x-n3xus-handshake')).to.equal('55-45-17');
    expect(reporter.pending).to.equal(0);
    await reporter.stop();
  });

  it('stop() (unmount) sends what is waiting, then ignores later measurements and page events', async () => {
    const fake = new FakeApi();
    const lib = fakeLib();
    const reporter = startVitals(fake.client(), { load: lib.load });
    await Promise.resolve();
    lib.report('LCP', 900);
    await reporter.stop();
    expect(posted(fake).map((b) => b.name)).to.deep.equal(['LCP']);
    lib.report('INP', 40);
    window.dispatchEvent(new PageTransitionEvent('pagehide'));
    await new Promise((r) => setTimeout(r, 30));
    expect(posted(fake)).to.have.length(1);
    expect(reporter.pending).to.equal(0);
  });

  it('registers web-vitals once per page however many times the module mounts', async () => {
    const fake = new FakeApi();
    const lib = fakeLib();
    for (let i = 0; i < 3; i++) {
      const reporter = startVitals(fake.client(), { load: lib.load });
      await Promise.resolve();
      await reporter.stop();
    }
    await new Promise((r) => setTimeout(r, 0));
    expect(lib.registrations()).to.equal(5, 'one observer per metric');
  });

  it('clamps and trims a metric to what POST /vitals accepts', () => {
    const vital = toWebVital({
      name: 'INP',
      value: 9_999_999,
      id: 'x'.repeat(300),
      rating: 'poor',
      navigationType: 'back-forward-cache',
    } as unknown as Metric);
    expect(vital.value).to.equal(3_600_000);
    expect(vital.id).to.have.length(128);
    expect(vital.navigationType).to.equal('back-forward-cache');
  });
});
