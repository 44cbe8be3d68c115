// /dashboard: the live campaign page (web/). Its script is bundled from web/src by esbuild once per process,
// in memory, on first request: nothing to build beforehand and nothing fetched from the internet. The page
// talks to /graphql only (HTTP and graphql-ws), so its policy allows scripts, styles and connections from
// this origin and nothing else.
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { build } from 'esbuild';
import type { Route } from '../lib/http/service-server.ts';
import type { GatewayRuntime } from './gateway.ts';

export const DASHBOARD_PATH = '/dashboard';
const WEB = new URL('../web/', import.meta.url);

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

interface Asset {
  type: string;
  body: Buffer;
}

async function bundle(): Promise<Buffer> {
  const result = await build({
    entryPoints: [new URL('src/main.ts', WEB).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return Buffer.from(result.outputFiles[0]!.contents);
}

const ASSETS: Record<string, () => Promise<Asset>> = {
  [DASHBOARD_PATH]: async () => ({
    type: 'text/html; charset=utf-8',
    body: await readFile(new URL('index.html', WEB)),
  }),
  [`${DASHBOARD_PATH}/app.css`]: async () => ({
    type: 'text/css; charset=utf-8',
    body: await readFile(new URL('app.css', WEB)),
  }),
  [`${DASHBOARD_PATH}/app.js`]: async () => ({
    type: 'text/javascript; charset=utf-8',
    body: await bundle(),
  }),
};

function send(res: ServerResponse, status: number, type: string, body: Buffer | string, head: boolean) {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
  });
  res.end(head ? undefined : body);
}

export function dashboardRoute(runtime: Pick<GatewayRuntime, 'log'>): Route {
  // each asset made once; a failed one is tried again by the next request
  const made = new Map<string, Promise<Asset>>();
  return async (req, res, requestId) => {
    const path = (req.url ?? '').split('?')[0]!.replace(/\/$/, '');
    const make = ASSETS[path];
    if (!make) return false;
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed\n', false);
      return true;
    }
    let asset = made.get(path);
    if (!asset) {
      asset = make();
      made.set(path, asset);
    }
    try {
      const { type, body } = await asset;
      send(res, 200, type, body, head);
    } catch (error) {
      made.delete(path);
      runtime.log.error({ err: error, requestId, path }, 'dashboard asset unavailable');
      send(res, 500, 'text/plain; charset=utf-8', 'The dashboard could not be built\n', head);
    }
    return true;
  };
}
