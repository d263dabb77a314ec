import { expect } from '@open-wc/testing';
import type { ClientStreamMessage, RtcSignal } from '../../../protocol/stream.ts';
import type { StreamStats } from '../../../worker/decoder-worker-api.ts';
import { WebRtcLink, type WebRtcLinkState, type WebRtcWorker } from '../../../module/viewer/webrtc-link.ts';

/** The decoder worker as the link sees it: records signals and the DataChannel handed over. */
function fakeWorker(version = 2) {
  const sent: ClientStreamMessage[] = [];
  const channels: RTCDataChannel[] = [];
  const stats: StreamStats = {
    updates: 0,
    rects: 0,
    bytes: 0,
    decodeMs: 0,
    rttMs: null,
    version,
    transport: 'websocket',
  };
  const worker = {
    send: async (m: ClientStreamMessage) => {
      sent.push(m);
    },
    attachDataChannel: async (c: RTCDataChannel) => {
      channels.push(c);
    },
    stats: async () => stats,
  } as unknown as WebRtcWorker;
  return { worker, sent, channels };
}

const signals = (sent: ClientStreamMessage[]): RtcSignal[] =>
  sent.flatMap((m) => (m.t === 'rtc' ? [m.signal] : []));

describe('WebRtcLink (page side of the DataChannel transport)', () => {
  it('offers with the stream DataChannel and hands the channel to the worker', async () => {
    const { worker, sent, channels } = fakeWorker();
    const link = new WebRtcLink(worker, { preference: 'auto' });
    await link.start();
    expect(channels).to.have.length(1);
    expect(channels[0]?.label).to.equal('v-supercore-stream');
    expect(channels[0]?.ordered).to.equal(true);
    const offer = signals(sent).find((s) => s.kind === 'offer');
    expect(offer && offer.kind === 'offer' && /m=application .*webrtc-datachannel/.test(offer.sdp)).to.equal(
      true,
    );
    expect(link.state).to.equal('negotiating');
    link.close();
    expect(link.state).to.equal('closed');
  });

  it('fails (the stream stays on the WebSocket) when the gateway refuses', async () => {
    const { worker } = fakeWorker();
    const states: Array<[WebRtcLinkState, string | undefined]> = [];
    const link = new WebRtcLink(worker, { preference: 'auto', onState: (s, r) => states.push([s, r]) });
    await link.start();
    await link.onSignal({ kind: 'refused', reason: 'WebRTC is disabled on this gateway' });
    expect(link.state).to.equal('failed');
    expect(link.reason).to.equal('the gateway refused: WebRTC is disabled on this gateway');
    expect(states).to.deep.equal([['failed', 'the gateway refused: WebRTC is disabled on this gateway']]);
  });

  it('gives up after its time bound in auto when nothing answers', async () => {
    const { worker } = fakeWorker();
    const link = new WebRtcLink(worker, { preference: 'auto', timeoutMs: 200 });
    await link.start();
    await new Promise((r) => setTimeout(r, 400));
    expect(link.state).to.equal('failed');
    expect(link.reason).to.equal('not connected within 200 ms');
  });

  it('keeps candidates that arrive before the answer, and does not try against a v1 gateway', async () => {
    const { worker, sent } = fakeWorker(1);
    const link = new WebRtcLink(worker, { preference: 'webrtc' });
    await link.start();
    expect(link.state).to.equal('failed');
    expect(signals(sent)).to.deep.equal([]);

    const v2 = fakeWorker();
    const early = new WebRtcLink(v2.worker, { preference: 'webrtc', timeoutMs: 50 });
    await early.start();
    // A candidate before any answer must not fail the link (it is applied once the answer is set).
    await early.onSignal({
      kind: 'candidate',
      candidate: 'candidate:1 1 udp 1 192.0.2.9 9 typ host',
      sdpMid: '0',
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(early.state, 'webrtc has no time bound').to.equal('negotiating');
    early.close();
  });
});
