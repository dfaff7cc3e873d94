// A TCP proxy in front of a real broker that can lose a response: the request reaches the broker and is
// done there (a produce is written), but the client never hears back and its connection is cut, as when a
// broker goes away between writing and answering. kafkajs connects to the addresses the broker advertises,
// so clients are pointed at the proxy with its `socketFactory` (every connection goes through the proxy;
// for a single-node broker).
//
//   const proxy = await startFaultProxy('127.0.0.1:19092');
//   const kafka = new Kafka({ brokers: [proxy.address], socketFactory: proxy.socketFactory });
//   proxy.loseNextResponse(0, 2); // the next 2 Produce requests (api key 0) reach the broker, their answers are lost, the connection cut
//   await proxy.close();
import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/** A running proxy. */
export interface FaultProxy {
  /** `127.0.0.1:PORT` of the proxy. */
  readonly address: string;
  /** kafkajs `socketFactory` that sends every connection through the proxy. */
  readonly socketFactory: ISocketFactory;
  /**
   * The next `times` requests with this Kafka api key (0 = Produce) reach the broker; their responses are
   * dropped and the client's connection closed (each time).
   */
  loseNextResponse(apiKey: number, times?: number): void;
  /** Responses lost so far. */
  readonly lost: number;
  close(): Promise<void>;
}

/** Splits a stream of size-prefixed Kafka frames; calls `each` with every whole frame. */
function framer(each: (frame: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4) {
      const size = buf.readInt32BE(0);
      if (buf.length < 4 + size) return;
      each(buf.subarray(0, 4 + size));
      buf = buf.subarray(4 + size);
    }
  };
}

/**
 * Starts a proxy to `target` (`host:port` of a single-node broker).
 *
 * @example
 * ```ts
 * const proxy = await startFaultProxy(brokers);
 * proxy.loseNextResponse(0);
 * ```
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  let armed: number | undefined;
  let armedTimes = 0;
  let lost = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const broker = net.connect({ host, port });
    sockets.add(client).add(broker);
    let dropCorrelation: number | undefined;
    const cut = (): void => {
      client.destroy();
      broker.destroy();
    };
    client.on('data', framer((frame) => {
      // request header: size, api key (int16), api version (int16), correlation id (int32)
      if (armed !== undefined && frame.readInt16BE(4) === armed) {
        if (--armedTimes <= 0) armed = undefined;
        dropCorrelation = frame.readInt32BE(8);
      }
      broker.write(frame);
    }));
    broker.on('data', framer((frame) => {
      // response header: size, correlation id
      if (dropCorrelation !== undefined && frame.readInt32BE(4) === dropCorrelation) {
        lost++;
        cut();
        return;
      }
      client.write(frame);
    }));
    client.on('error', cut).on('close', () => { broker.destroy(); sockets.delete(client); });
    broker.on('error', cut).on('close', () => { client.destroy(); sockets.delete(broker); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxyPort = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${proxyPort}`,
    socketFactory: ({ onConnect }) => net.connect({ host: '127.0.0.1', port: proxyPort }, onConnect),
    loseNextResponse: (apiKey, times = 1) => {
      armed = apiKey;
      armedTimes = times;
    },
    get lost() { return lost; },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
