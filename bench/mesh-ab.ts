/**
 * A/B of the gateway → provider data path in ONE process, for a machine too busy for bench/mesh-http.ts:
 * gateway, provider, echo backend and client share one event loop, so the scheduler's delays between
 * processes drop out and CPU µs per request (process.cpuUsage) compares two checkouts fairly.
 *
 * Run: node bench/mesh-ab.ts <checkout root> [<checkout root> …] [--rounds 3] [--requests 1600] [--concurrency 16]
 * e.g. node bench/mesh-ab.ts /work/main . — the first a stream-per-request gateway, the second sessions.
 * Each round runs every checkout once, alternating, 1 KiB POST echoes through gateway → libp2p → provider.
 */
import { Agent, request } from "node:http";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: "string", default: "3" }, requests: { type: "string", default: "1600" }, concurrency: { type: "string", default: "16" } },
});
const roots = positionals.map((root) => resolve(root));
const requests = Number(args.requests);
const concurrency = Number(args.concurrency);

async function runOnce(root: string): Promise<{ reqPerSecond: number; cpuMicrosPerRequest: number }> {
  const { createHttpProvider } = await import(`${root}/worker/src/mesh/provider-handler.ts`);
  const { createGateway } = await import(`${root}/worker/src/mesh/gateway.ts`);
  const { learnAddresses, TestBackend, TestNodes } = await import(`${root}/worker/src/mesh/mesh.fixture.ts`);
  const nodes = new TestNodes();
  const backend = new TestBackend();
  const url = await backend.start();
  const [gatewayNode, providerNode] = await Promise.all([nodes.start(), nodes.start()]);
  await learnAddresses(gatewayNode, providerNode);
  const provider = createHttpProvider({ backends: new Map([[1n, url]]) })({ libp2p: providerNode });
  await provider.start();
  const gateway = createGateway({ host: "127.0.0.1", port: 0 })({ libp2p: gatewayNode, resolveProviders: async () => [providerNode.peerId] });
  await gateway.start();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const body = Buffer.alloc(1024, 0x61);
  const target = `http://127.0.0.1:${gateway.address().port}/svc/1/echo`;
  const one = (): Promise<void> =>
    new Promise<void>((done, fail) => {
      const req = request(target, { method: "POST", agent, headers: { "content-length": "1024" } }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? done() : fail(new Error(`status ${res.statusCode}`))));
      });
      req.on("error", fail);
      req.end(body);
    });
  await Promise.all(Array.from({ length: concurrency }, async () => { for (let i = 0; i < 10; i++) await one(); })); // warm-up
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => { for (let i = 0; i < requests / concurrency; i++) await one(); }));
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  await gateway.stop();
  await provider.stop();
  await nodes.stopAll();
  await backend.stop();
  return { reqPerSecond: requests / seconds, cpuMicrosPerRequest: (used.user + used.system) / requests };
}

for (let round = 1; round <= Number(args.rounds); round++) {
  for (const root of roots) {
    const result = await runOnce(root);
    console.log(`round ${round}  ${root.padEnd(20)}  ${result.reqPerSecond.toFixed(0).padStart(5)} req/s  ${result.cpuMicrosPerRequest.toFixed(0).padStart(5)} µs CPU per request (all parts)`);
  }
}
process.exit(0);
