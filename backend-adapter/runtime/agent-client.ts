import { AGENT_ROUTES, type AgentHealth, type AgentMetrics } from '../../session-agent/protocol.ts';

/** The agent answered with an error, or could not be reached (`status` 0). */
export class AgentRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Talks to one session agent's control endpoint with the session's bearer secret. The secret is sent only
 * to the agent; it is never logged and never leaves the server otherwise.
 */
export class AgentClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly timeoutMs = 5000,
  ) {}

  private async call<T>(method: 'GET' | 'POST', path: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${this.token}` },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const why =
        error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : '';
      throw new AgentRequestError(0, `the session agent did not answer (${why})`);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new AgentRequestError(res.status, message || `the session agent answered ${res.status}`);
    }
    return JSON.parse(text) as T;
  }

  health(): Promise<AgentHealth> {
    return this.call('GET', AGENT_ROUTES.health);
  }
  metrics(): Promise<AgentMetrics> {
    return this.call('GET', AGENT_ROUTES.metrics);
  }
  pause(): Promise<AgentHealth> {
    return this.call('POST', AGENT_ROUTES.pause);
  }
  resume(): Promise<AgentHealth> {
    return this.call('POST', AGENT_ROUTES.resume);
  }
  async stop(): Promise<void> {
    await this.call('POST', AGENT_ROUTES.stop);
  }
}
