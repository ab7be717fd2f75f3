// A bare Hyps broker for benchmarks, used when the CLI (apps/broker) is not built. Prints
// `listening on host:port` like the CLI; exits on SIGTERM/SIGINT (so --cpu-prof is written).
import { Broker } from '@hyps/transport';

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const at = argv.indexOf(name);
  return at === -1 ? fallback : argv[at + 1];
};

const broker = new Broker({
  host: option('--host', '127.0.0.1'),
  port: Number(option('--port', '0')),
  auth: { mode: 'none' },
});
const { host, port } = await broker.listen();
console.log(`listening on ${host}:${port}`);

const stop = () => {
  broker.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
