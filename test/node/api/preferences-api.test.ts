import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Preferences, PreferencesResponse } from '../../../protocol/preferences.ts';
import { startTestAdapter, type TestAdapter } from '../../support/adapter-fixture.ts';

type ErrorBody = { error: { code: string; message: string } };

/** Settings as a dashboard written before `streamTransport` existed sends them. */
const BEFORE_TRANSPORT = {
  defaultTier: 'basic',
  streamQuality: 'high',
  scaling: 'fit',
  keyboardLayout: 'de',
  idleTimeoutMinutes: 20,
  notifications: true,
} as const;

describe('preferences API: the stream transport setting', () => {
  let t: TestAdapter;

  before(async () => {
    t = await startTestAdapter();
  });
  after(() => t.close());

  it('stores the transport and answers it back', async () => {
    const token = await t.login('tina');
    const body: Preferences = { ...BEFORE_TRANSPORT, streamTransport: 'webrtc' };
    const saved = await t.api('/api/v1/preferences', { method: 'PUT', token, body });
    assert.equal(saved.status, 200);
    assert.equal((saved.body as PreferencesResponse).preferences.streamTransport, 'webrtc');
    const read = (await t.api('/api/v1/preferences', { token })).body as PreferencesResponse;
    assert.equal(read.preferences.streamTransport, 'webrtc');
    assert.equal(read.preferences.keyboardLayout, 'de');
  });

  it('refuses an unknown transport with 400 BAD_REQUEST and keeps what was stored', async () => {
    const token = await t.login('umar');
    const good: Preferences = { ...BEFORE_TRANSPORT, streamTransport: 'websocket' };
    assert.equal((await t.api('/api/v1/preferences', { method: 'PUT', token, body: good })).status, 200);
    for (const streamTransport of ['udp', '', 'WEBRTC', 1, null]) {
      const bad = await t.api('/api/v1/preferences', {
        method: 'PUT',
        token,
        body: { ...good, streamTransport },
      });
      assert.equal(bad.status, 400, `streamTransport ${JSON.stringify(streamTransport)}`);
      assert.equal((bad.body as ErrorBody).error.code, 'BAD_REQUEST');
    }
    const read = (await t.api('/api/v1/preferences', { token })).body as PreferencesResponse;
    assert.equal(read.preferences.streamTransport, 'websocket');
  });

  it('reads a row stored before the setting existed with the default transport, and lists it in GET', async () => {
    const token = await t.login('olga');
    // Written as the previous release stored it: the six fields, no transport.
    await t.adapter.canon.putPreferences(
      { userId: 'olga', tenantId: 'tenant-a' },
      { ...BEFORE_TRANSPORT },
      new Date(),
    );
    const read = await t.api('/api/v1/preferences', { token });
    assert.equal(read.status, 200);
    const { preferences, updatedAt } = read.body as PreferencesResponse;
    assert.notEqual(updatedAt, null, 'the stored row is the one answered');
    assert.deepEqual(preferences, { ...BEFORE_TRANSPORT, streamTransport: 'auto' });
  });

  it('a save from a dashboard that does not know the setting keeps the stored transport', async () => {
    const token = await t.login('pavel');
    await t.api('/api/v1/preferences', {
      method: 'PUT',
      token,
      body: { ...BEFORE_TRANSPORT, streamTransport: 'websocket' },
    });
    const old = await t.api('/api/v1/preferences', {
      method: 'PUT',
      token,
      body: { ...BEFORE_TRANSPORT, keyboardLayout: 'fr' },
    });
    assert.equal(old.status, 200);
    const answered = (old.body as PreferencesResponse).preferences;
    assert.equal(answered.keyboardLayout, 'fr');
    assert.equal(answered.streamTransport, 'websocket');
    const read = (await t.api('/api/v1/preferences', { token })).body as PreferencesResponse;
    assert.equal(read.preferences.streamTransport, 'websocket');

    // Nothing stored yet: the same save gets the default.
    const fresh = await t.login('quinn');
    const first = await t.api('/api/v1/preferences', { method: 'PUT', token: fresh, body: BEFORE_TRANSPORT });
    assert.equal((first.body as PreferencesResponse).preferences.streamTransport, 'auto');
  });

  it('describes the field in the OpenAPI document (GET always has it, PUT may leave it out)', async () => {
    const doc = (await (await fetch(`${t.adapter.url}/api/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const text = JSON.stringify(doc.paths['/api/v1/preferences']);
    assert.match(text, /streamTransport/);
    assert.match(text, /"webrtc"/);
  });
});
