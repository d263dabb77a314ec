// One replica's start, for local-issuer.test.ts: opens the issuer at argv[2] once stdin says go, and prints
// the key id it ended up with and a token it issued.
import { once } from 'node:events';
import { LocalIssuer } from '../../../backend-adapter/auth/local-issuer.ts';

await once(process.stdin, 'data');
const issuer = await LocalIssuer.open(process.argv[2] ?? '');
const token = await issuer.issue({ userId: `u-${process.pid}`, tenantId: 't', subscription: 'basic' });
const kid = (JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { kid: string })
  .kid;
process.stdout.write(`${JSON.stringify({ kid, token })}\n`);
process.exit(0);
