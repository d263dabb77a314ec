import { expect } from '@open-wc/testing';
import { ApiClient, ApiError } from '../../../module/api/api-client.ts';
import { FAKE_BASE, FAKE_TOKEN, FakeApi } from './support/fake-api.ts';

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected a rejection');
}

describe('ApiClient', () => {
  let fake: FakeApi;
  let api: ApiClient;

  beforeEach(() => {
    fake = new FakeApi();
    api = fake.client();
  });

  it('sends the bearer token and the 55-45-17 handshake on every request', async () => {
    let calls = 0;
    api = fake.client(async () => {
      calls++;
      return FAKE_TOKEN;
    });
    await api.listTiers();
    await api.listSessions();
    expect(fake.requests).to.have.length(2);
    for (const request of fake.requests) {
      expect(request.headers.get('authorization')).to.equal(`Bearer ${FAKE_TOKEN}`);
      expect(request.headers.get('x-n3xus-handshake')).to.equal('55-45-17');
    }
    expect(calls).to.equal(2, 'getToken is asked before every request');
  });

  it('lists tiers and sessions, unwrapping the response envelopes', async () => {
    fake.seed({ state: 'active' });
    const tiers = await api.listTiers();
    expect(tiers.map((t) => t.id)).to.deep.equal(['basic', 'standard', 'gpu']);
    const sessions = await api.listSessions();
    expect(sessions).to.have.length(1);
    expect(sessions[0]?.state).to.equal('active');
  });

  it('creates a session with POST /sessions and a JSON body', async () => {
    const session = await api.createSession('standard');
    expect(session.state).to.equal('active');
    expect(session.tier).to.equal('standard');
    const request = fake.requests.at(-1);
    expect(request?.method).to.equal('POST');
    expect(request?.path).to.equal('/sessions');
    expect(request?.body).to.deep.equal({ tier: 'standard' });
    expect(request?.headers.get('content-type')).to.equal('application/json');
  });

  it('gets, pauses, resumes and terminates through the documented routes', async () => {
    const { sessionId } = fake.seed({ state: 'active' });
    expect((await api.getSession(sessionId)).sessionId).to.equal(sessionId);
    expect((await api.pause(sessionId))?.state).to.equal('paused');
    expect((await api.resume(sessionId))?.state).to.equal('active');
    expect((await api.terminate(sessionId))?.state).to.equal('terminated');
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      `GET /sessions/${sessionId}`,
      `POST /sessions/${sessionId}/pause`,
      `POST /sessions/${sessionId}/resume`,
      `DELETE /sessions/${sessionId}`,
    ]);
    const post = fake.requests[1];
    expect(post?.body).to.equal(undefined, 'no body, so no Content-Type the server would have to accept');
  });

  it('turns an error body into an ApiError with code, status and message', async () => {
    const error = await rejection(api.createSession('quantum'));
    expect(error.code).to.equal('UNKNOWN_TIER');
    expect(error.status).to.equal(400);
    expect(error.message).to.equal('There is no resource tier called "quantum".');
  });

  it('reports ILLEGAL_TRANSITION with its details and SESSION_NOT_FOUND for other users', async () => {
    const { sessionId } = fake.seed({ state: 'paused' });
    const illegal = await rejection(api.pause(sessionId));
    expect(illegal.code).to.equal('ILLEGAL_TRANSITION');
    expect(illegal.status).to.equal(409);
    expect(illegal.details).to.deep.equal({ state: 'paused' });

    const theirs = fake.seed({ state: 'active' }, 'bob');
    const missing = await rejection(api.getSession(theirs.sessionId));
    expect(missing.code).to.equal('SESSION_NOT_FOUND');
    expect(missing.status).to.equal(404);
  });

  it('reports RUNTIME_FAILED from a failed launch', async () => {
    fake.failNextCreate = 'Xvnc exited with code 1';
    const error = await rejection(api.createSession('basic'));
    expect(error.code).to.equal('RUNTIME_FAILED');
    expect(error.status).to.equal(500);
    expect(error.message).to.contain('Xvnc exited with code 1');
  });

  it('maps a rejected or empty token to TOKEN_UNAVAILABLE without calling the server', async () => {
    api = fake.client(() => Promise.reject(new Error('signed out')));
    const rejected = await rejection(api.listSessions());
    expect(rejected.code).to.equal('TOKEN_UNAVAILABLE');
    expect(rejected.message).to.contain('signed out');
    api = fake.client(async () => '');
    expect((await rejection(api.listSessions())).code).to.equal('TOKEN_UNAVAILABLE');
    expect(fake.requests).to.have.length(0);
  });

  it('maps a token the server rejects to AUTH_INVALID (401)', async () => {
    api = fake.client(async () => 'token-mallory');
    const error = await rejection(api.listTiers());
    expect(error.code).to.equal('AUTH_INVALID');
    expect(error.status).to.equal(401);
  });

  it('maps network failures and non-JSON answers to NETWORK_ERROR and BAD_RESPONSE', async () => {
    const offline = new ApiClient({
      apiBase: FAKE_BASE,
      getToken: async () => FAKE_TOKEN,
      fetch: () => Promise.reject(new TypeError('Failed to fetch')),
    });
    const network = await rejection(offline.listTiers());
    expect(network.code).to.equal('NETWORK_ERROR');
    expect(network.status).to.equal(0);

    const proxy = new ApiClient({
      apiBase: FAKE_BASE,
      getToken: async () => FAKE_TOKEN,
      fetch: async () => new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    });
    const bad = await rejection(proxy.listTiers());
    expect(bad.code).to.equal('BAD_RESPONSE');
    expect(bad.status).to.equal(502);
    expect(bad.message).to.contain('502');
  });

  it('accepts 204 with no body for actions', async () => {
    const client = new ApiClient({
      apiBase: FAKE_BASE,
      getToken: async () => FAKE_TOKEN,
      fetch: async () => new Response(null, { status: 204 }),
    });
    expect(await client.terminate('abc')).to.equal(null);
  });

  it('passes an abort signal through and rejects with AbortError', async () => {
    const controller = new AbortController();
    controller.abort();
    try {
      await api.listSessions({ signal: controller.signal });
      expect.fail('should reject');
    } catch (error) {
      expect((error as DOMException).name).to.equal('AbortError');
    }
  });

  it('joins the API base with or without a trailing slash or a path prefix', () => {
    const at = (apiBase: string): string =>
      new ApiClient({ apiBase, getToken: async () => FAKE_TOKEN }).url('sessions');
    expect(at('https://a.test')).to.equal('https://a.test/api/v1/sessions');
    expect(at('https://a.test/')).to.equal('https://a.test/api/v1/sessions');
    expect(at('https://a.test/supercore')).to.equal('https://a.test/supercore/api/v1/sessions');
    expect(at('/backend/')).to.equal(`${location.origin}/backend/api/v1/sessions`);
    expect(() => new ApiClient({ apiBase: 'http://[bad', getToken: async () => '' })).to.throw(
      /not a valid URL/,
    );
  });

  it('builds the stream URL (http→ws, https→wss) and the WebSocket subprotocols', () => {
    const secure = new ApiClient({ apiBase: 'https://gw.test/x/', getToken: async () => FAKE_TOKEN });
    expect(secure.streamUrl('abc-1')).to.equal('wss://gw.test/x/api/v1/sessions/abc-1/stream');
    const plain = new ApiClient({ apiBase: 'http://localhost:8080', getToken: async () => FAKE_TOKEN });
    expect(plain.streamUrl('abc-1')).to.equal('ws://localhost:8080/api/v1/sessions/abc-1/stream');
    // Newest stream protocol first: the gateway picks the highest it speaks.
    expect(plain.streamProtocols('tok.en')).to.deep.equal([
      'v-supercore-stream.v2',
      'v-supercore-stream.v1',
      'bearer.tok.en',
      'n3xus-handshake.55-45-17',
    ]);
  });

  it('encodes session ids in paths', async () => {
    await rejection(api.getSession('a/b'));
    expect(fake.requests.at(-1)?.path).to.equal('/sessions/a%2Fb');
  });
  it('reads and writes the preferences (GET/PUT /preferences)', async () => {
    const initial = await api.getPreferences();
    expect(initial.updatedAt).to.equal(null);
    const preferences = { ...initial.preferences, keyboardLayout: 'de' };
    const saved = await api.putPreferences(preferences);
    expect(saved.preferences.keyboardLayout).to.equal('de');
    expect(saved.updatedAt).to.be.a('string');
    const put = fake.requests.find((r) => r.method === 'PUT');
    expect(put?.path).to.equal('/preferences');
    expect(put?.headers.get('content-type')).to.equal('application/json');
    expect(put?.body).to.deep.equal(preferences);
    const rejected = await rejection(api.putPreferences({ ...preferences, idleTimeoutMinutes: 0 }));
    expect(rejected.code).to.equal('BAD_REQUEST');
  });

  it('reads metrics history with a bounded windowSeconds, and the quota', async () => {
    const s = fake.seed({ state: 'active' });
    fake.pushMetrics({ sessionId: s.sessionId, cpuPercent: 12 });
    const samples = await api.getMetrics(s.sessionId, 300);
    expect(samples.map((m) => m.cpuPercent)).to.deep.equal([12]);
    await api.getMetrics(s.sessionId, 999_999);
    await api.getMetrics(s.sessionId, 1);
    const asked = fake.requests.filter((r) => r.path.endsWith('/metrics')).length;
    expect(asked).to.equal(3, 'clamped to 10–3600, never rejected by the server');
    const quota = await api.getQuota();
    expect(quota.usage.liveSessionsOfUser).to.equal(1);
    expect(quota.limits.maxLiveSessionsPerUser).to.be.a('number');
  });

  it('shares one tier catalogue between callers and forgets a failed fetch', async () => {
    fake.failures.set('/tiers', 'INTERNAL');
    expect((await rejection(api.tiers())).code).to.equal('INTERNAL');
    fake.failures.clear();
    const [a, b] = await Promise.all([api.tiers(), api.tiers()]);
    expect(a).to.equal(b);
    expect(fake.count('GET', '/tiers')).to.equal(2, 'one failed, one shared');
    const aborted = new AbortController();
    aborted.abort();
    try {
      await api.tiers({ signal: aborted.signal });
      expect.fail('should reject');
    } catch (error) {
      expect((error as DOMException).name).to.equal('AbortError');
    }
  });

  it('opens the event stream with the headers an EventSource could not send', async () => {
    const controller = new AbortController();
    const response = await api.openEventStream({ signal: controller.signal, lastEventId: '42' });
    expect(response.headers.get('content-type')).to.equal('text/event-stream');
    const request = fake.requests.find((r) => r.path === '/events');
    expect(request?.headers.get('authorization')).to.equal(`Bearer ${FAKE_TOKEN}`);
    expect(request?.headers.get('last-event-id')).to.equal('42');
    controller.abort();
    fake.failures.set('/events', 'AUTH_INVALID');
    expect((await rejection(api.openEventStream())).code).to.equal('AUTH_INVALID');
  });

  it('sends web vitals with keepalive using the cached token, and never rejects', async () => {
    await api.listTiers();
    expect(api.cachedToken).to.equal(FAKE_TOKEN);
    await api.sendVitals([{ name: 'LCP', value: 800, rating: 'good', id: 'v5-1' }], { keepalive: true });
    const request = fake.requests.find((r) => r.path === '/vitals');
    expect(request?.keepalive).to.equal(true);
    expect(request?.body).to.deep.equal({ name: 'LCP', value: 800, rating: 'good', id: 'v5-1' });
    const broken = new ApiClient({
      apiBase: FAKE_BASE,
      getToken: async () => FAKE_TOKEN,
      fetch: async () => {
        throw new TypeError('offline');
      },
    });
    await broken.sendVitals([{ name: 'CLS', value: 0, rating: 'good', id: 'v5-2' }]);
  });
});
