import fs from 'node:fs';
import net from 'node:net';

/**
 * A free TCP port on loopback for a server we are about to start (the Temporal dev server, PostgreSQL, test
 * servers). A port is free when we can bind it, but between our check and the server's own bind another process may
 * take it, so:
 * - ports come from below the kernel's ephemeral range when there is room: the kernel hands that range out as the
 *   source port of every outgoing connection and for every `bind(0)` (the Temporal dev server picks its own internal
 *   ports that way), so a port from there can be taken before our server binds it;
 * - this process never hands out the same port twice, so three calls in a row give three ports;
 * callers that start a server on the port still retry with a new one when the bind fails.
 */

const handedOut = new Set<number>();
const LOWEST = 20_000;

/** Linux's ephemeral range (ip_local_port_range); elsewhere the usual one. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    if (Number(low) > 0 && Number(high) >= Number(low)) return [Number(low), Number(high)];
  } catch {
    // not Linux
  }
  return [32_768, 60_999];
}

export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A port the kernel chooses (from its ephemeral range). */
async function kernelPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  for (let attempt = 0; ephemeralLow - LOWEST >= 1000 && attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (ephemeralLow - LOWEST));
    if (handedOut.has(port) || !(await isPortFree(port, host))) continue;
    handedOut.add(port);
    return port;
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await kernelPort(host);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free TCP port found on ${host}`);
}
