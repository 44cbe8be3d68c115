// The page's only way to the server: GraphQL over HTTP on /graphql and graphql-ws on the same URL, with the
// signed-in session (access and refresh tokens in sessionStorage: gone when the tab closes). An access token
// close to its end is refreshed first; a socket the server closes with 4401 (token expired) is opened again
// with a fresh token.
import { type Client, createClient } from 'graphql-ws';

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  organisationName: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const STORAGE_KEY = 'prospectflow.session';
/** Refresh the access token when less than this is left of it. */
const REFRESH_MARGIN_MS = 30_000;
const UNAUTHORIZED = 4401;

const SESSION_FIELDS = 'accessToken refreshToken expiresAt organisation { name }';

interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  organisation: { name: string };
}

function toSession(payload: AuthPayload): Session {
  return {
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken,
    expiresAt: payload.expiresAt,
    organisationName: payload.organisation.name,
  };
}

export function storedSession(): Session | null {
  const text = sessionStorage.getItem(STORAGE_KEY);
  if (!text) return null;
  try {
    return JSON.parse(text) as Session;
  } catch {
    return null;
  }
}

function keep(session: Session | null): void {
  if (session) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(STORAGE_KEY);
}

async function post<T>(query: string, variables: object, token?: string): Promise<T> {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json().catch(() => null)) as {
    data?: T;
    errors?: { message: string; extensions?: { code?: string } }[];
  } | null;
  const error = body?.errors?.[0];
  if (error) throw new ApiError(error.message, error.extensions?.code);
  if (!body?.data) throw new ApiError(`The server answered ${response.status}`, undefined);
  return body.data;
}

export async function signIn(email: string, password: string): Promise<Session> {
  const data = await post<{ login: AuthPayload }>(
    `mutation SignIn($email: String!, $password: String!) { login(email: $email, password: $password) { ${SESSION_FIELDS} } }`,
    { email, password },
  );
  const session = toSession(data.login);
  keep(session);
  return session;
}

export class Api {
  private refreshing: Promise<string> | undefined;
  private readonly socket: Client;

  constructor(
    private session: Session,
    /** Called when the session cannot be kept (refresh refused): the page signs in again. */
    private readonly onSignedOut: () => void,
    onConnection: (live: boolean) => void,
  ) {
    this.socket = createClient({
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
      connectionParams: async () => ({ authorization: `Bearer ${await this.token()}` }),
      lazy: true,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => true,
      on: {
        connected: () => onConnection(true),
        closed: () => onConnection(false),
      },
    });
  }

  get organisationName(): string {
    return this.session.organisationName;
  }

  /** A valid access token, refreshed (once for every caller) when it is about to end. */
  async token(force = false): Promise<string> {
    const left = Date.parse(this.session.expiresAt) - Date.now();
    if (!force && left > REFRESH_MARGIN_MS) return this.session.accessToken;
    this.refreshing ??= post<{ refreshSession: AuthPayload }>(
      `mutation Refresh($token: String!) { refreshSession(refreshToken: $token) { ${SESSION_FIELDS} } }`,
      { token: this.session.refreshToken },
    )
      .then(
        (data) => {
          this.session = toSession(data.refreshSession);
          keep(this.session);
          return this.session.accessToken;
        },
        (error: unknown) => {
          keep(null);
          this.onSignedOut();
          throw error;
        },
      )
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  async query<T>(query: string, variables: object = {}): Promise<T> {
    try {
      return await post<T>(query, variables, await this.token());
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'UNAUTHENTICATED')) throw error;
      return post<T>(query, variables, await this.token(true));
    }
  }

  /**
   * Follows a subscription until stopped: each result goes to `next`; when the server ends it (a new token
   * needed, a restart) it is started again.
   */
  subscribe<T>(
    query: string,
    variables: Record<string, unknown>,
    next: (data: T) => void,
    onError: (e: Error) => void,
  ) {
    let stopped = false;
    let stop: () => void = () => {};
    const start = () => {
      stop = this.socket.subscribe<T>(
        { query, variables },
        {
          next: (result) => {
            if (result.data) next(result.data as T);
            if (result.errors?.[0]) onError(new Error(result.errors[0].message));
          },
          error: (error: unknown) => {
            if (stopped) return;
            const code = (error as { code?: number })?.code;
            const again = code === UNAUTHORIZED ? this.token(true) : Promise.resolve('');
            again.then(
              () => setTimeout(() => !stopped && start(), 1000),
              () => {},
            );
            if (code !== UNAUTHORIZED) onError(error instanceof Error ? error : new Error(describe(error)));
          },
          complete: () => {},
        },
      );
    };
    start();
    return () => {
      stopped = true;
      stop();
    };
  }

  async signOut(): Promise<void> {
    const refreshToken = this.session.refreshToken;
    keep(null);
    await this.socket.dispose();
    await post('mutation SignOut($token: String!) { logout(refreshToken: $token) }', {
      token: refreshToken,
    }).catch(() => {});
  }
}

function describe(error: unknown): string {
  if (Array.isArray(error)) return (error[0] as { message?: string })?.message ?? 'subscription refused';
  const reason = (error as { reason?: string })?.reason;
  return reason ? `connection closed: ${reason}` : 'connection lost';
}
