import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../../backend-adapter/logging/logger.ts';

/** A logger at `info` whose JSON lines are kept for assertions. */
function capturing(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, log: createLogger({ service: 'orchestrator', level: 'info', destination }) };
}

const AGENT_TOKEN = 'agent-secret-3f9a1c7e5b2d8046';
const VNC_PASSWORD = 'vnc-pw-Q7x2';

describe('log redaction (backend-adapter/logging/logger.ts)', () => {
  it('redacts the session agent’s token and the VNC password wherever a runtime handle is logged', () => {
    const { lines, log } = capturing();
    const handle = {
      kind: 'local',
      pid: 4242,
      port: 5901,
      password: VNC_PASSWORD,
      agentUrl: 'http://127.0.0.1:40000',
      agentToken: AGENT_TOKEN,
    };
    log.info({ sessionId: 's-1', agentToken: AGENT_TOKEN, vncPassword: VNC_PASSWORD }, 'top level');
    log.info({ sessionId: 's-1', handle }, 'a handle');
    log.warn({ row: { sessionId: 's-1', runtime: handle } }, 'a session row with its handle');
    log.info({ secrets: { agentToken: AGENT_TOKEN, vncPassword: VNC_PASSWORD } }, 'a pod’s secret data');
    log.info({ pod: { env: { AGENT_TOKEN, VNC_PASSWORD, RFB_PORT: '5900' } } }, 'a pod’s environment');
    assert.equal(lines.length, 5);
    for (const line of lines) {
      assert.ok(!line.includes(AGENT_TOKEN), `agent token in: ${line}`);
      assert.ok(!line.includes(VNC_PASSWORD), `VNC password in: ${line}`);
      assert.match(line, /"\[redacted\]"/);
    }
    const [top, withHandle, withRow, secrets, pod] = lines.map(
      (l) => JSON.parse(l) as { message: string; metadata: Record<string, unknown> },
    );
    // What is not secret stays readable: the line must still help whoever reads it.
    assert.deepEqual(top?.metadata, {
      sessionId: 's-1',
      agentToken: '[redacted]',
      vncPassword: '[redacted]',
    });
    assert.deepEqual(withHandle?.metadata['handle'], {
      ...handle,
      password: '[redacted]',
      agentToken: '[redacted]',
    });
    assert.deepEqual((withRow?.metadata['row'] as { runtime: unknown }).runtime, {
      ...handle,
      password: '[redacted]',
      agentToken: '[redacted]',
    });
    assert.deepEqual(secrets?.metadata['secrets'], { agentToken: '[redacted]', vncPassword: '[redacted]' });
    assert.deepEqual((pod?.metadata['pod'] as { env: unknown }).env, {
      AGENT_TOKEN: '[redacted]',
      VNC_PASSWORD: '[redacted]',
      RFB_PORT: '5900',
    });
    assert.equal(top?.message, 'top level');
  });

  it('redacts bearer tokens, authorization headers and TURN credentials', () => {
    const { lines, log } = capturing();
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
    log.info({ token: jwt, headers: { authorization: `Bearer ${jwt}` } }, 'request');
    log.info({ ice: { credential: 'turn-cred-91', username: 'turn-user' } }, 'webrtc');
    assert.ok(!lines.join('\n').includes(jwt));
    assert.ok(!lines.join('\n').includes('turn-cred-91'));
    assert.match(lines[1] ?? '', /"username":"turn-user"/);
  });
});
