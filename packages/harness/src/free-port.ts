/** Free TCP ports on 127.0.0.1, for daemons that are started as processes and must be told their port up front. */
import { createServer } from 'node:net';

/** A port that was free a moment ago (bound to port 0 on 127.0.0.1, then released). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
