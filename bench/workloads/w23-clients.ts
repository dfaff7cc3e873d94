/**
 * The W23 clients, in a process of their own so their CPU is not the server's:
 *   node --import tsx bench/workloads/w23-clients.ts <url> <clients> [key]
 * Opens `clients` plain HTTP connections to `url` (each its own socket), prints `CONNECTED`
 * once every one has received its first bytes, counts the `event: node.token` messages each
 * one receives until its `event: end`, then prints `DONE <tokens> <cpuMs>` and exits.
 * @module
 */
import * as http from 'node:http';

const TOKEN = '\nevent: node.token\n';
const END = '\nevent: end\n';

function main(): void {
  const [url, count, key] = process.argv.slice(2);
  if (url === undefined || count === undefined) throw new Error('usage: w23-clients.ts <url> <clients> [key]');
  const n = Number(count);
  let connected = 0;
  let ended = 0;
  let tokens = 0;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const headers: http.OutgoingHttpHeaders = { accept: 'text/event-stream' };
    if (key !== undefined) headers.authorization = `Bearer ${key}`;
    const req = http.get(url, { agent: false, headers }, (res) => {
      if (res.statusCode !== 200) throw new Error(`client ${i}: status ${res.statusCode}`);
      res.setEncoding('utf8');
      let first = true;
      let tail = '';
      let done = false;
      res.on('data', (chunk: string) => {
        if (first) {
          first = false;
          if (++connected === n) process.stdout.write('CONNECTED\n');
        }
        const text = tail + chunk;
        for (let at = text.indexOf(TOKEN); at >= 0; at = text.indexOf(TOKEN, at + TOKEN.length)) tokens++;
        if (!done && text.includes(END)) {
          done = true;
          if (++ended === n) {
            const c = process.cpuUsage(cpu0);
            process.stdout.write(`DONE ${tokens} ${((c.user + c.system) / 1000).toFixed(1)}\n`);
            setImmediate(() => process.exit(0));
          }
        }
        // keep enough of the end to find a marker cut in two, never one counted already
        tail = text.slice(-TOKEN.length + 1);
      });
    });
    req.on('error', (e) => { throw e; });
  }
}

main();
