// `npm start`: everything on one machine, on embedded defaults unless configured otherwise.
import { loadConfig } from '../config.ts';
import { startStack } from './stack.ts';

const stack = await startStack(loadConfig());
console.log(
  `\nProspectFlow is running.\n  GraphQL + Sandbox: ${stack.gateway.url}\n  Health: http://localhost:${stack.gateway.port}/health\n`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping...`);
    await stack.stop();
    process.exit(0);
  });
}
