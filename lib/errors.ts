// One error type with a code; mapped to `extensions.code` in one place (formatError).
import { GraphQLError, type GraphQLFormattedError } from 'graphql';

export enum ErrorCode {
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  NotFound = 'NOT_FOUND',
  MethodNotAllowed = 'METHOD_NOT_ALLOWED',
  BadUserInput = 'BAD_USER_INPUT',
  ValidationFailed = 'VALIDATION_FAILED',
  Conflict = 'CONFLICT',
  RateLimited = 'RATE_LIMITED',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  QueryTooComplex = 'QUERY_TOO_COMPLEX',
  ConfigInvalid = 'CONFIG_INVALID',
  Unavailable = 'SERVICE_UNAVAILABLE',
  Internal = 'INTERNAL_SERVER_ERROR',
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.MethodNotAllowed]: 405,
  [ErrorCode.BadUserInput]: 400,
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.QueryTooComplex]: 400,
  [ErrorCode.Unavailable]: 503,
};

export function httpStatusOf(code: string): number {
  return HTTP_STATUS[code as ErrorCode] ?? 500;
}

export const unauthenticated = (message = 'Authentication required') =>
  new AppError(ErrorCode.Unauthenticated, message);
export const forbidden = (message = 'Not allowed') => new AppError(ErrorCode.Forbidden, message);
export const notFound = (what: string) => new AppError(ErrorCode.NotFound, `${what} not found`);
export const badInput = (message: string, details?: Record<string, unknown>) =>
  new AppError(ErrorCode.BadUserInput, message, details);

const PASS_THROUGH = new Set<string>([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'OPERATION_RESOLUTION_FAILURE',
  ...Object.values(ErrorCode),
]);

function findAppError(error: unknown): AppError | undefined {
  let current: unknown = error;
  for (let i = 0; i < 5 && current; i++) {
    if (current instanceof AppError) return current;
    const sqlState = (current as { code?: unknown }).code;
    // a unique violation that got past the checks (two requests racing): a conflict, not a crash
    if (sqlState === '23505') {
      return new AppError(ErrorCode.Conflict, 'This conflicts with existing data; reload and try again');
    }
    // text PostgreSQL cannot store (a NUL byte) only ever comes from the caller's input
    if (sqlState === '22021') {
      return new AppError(ErrorCode.BadUserInput, 'The input contains characters that cannot be stored');
    }
    current = (current as { originalError?: unknown }).originalError;
  }
  return undefined;
}

const SUGGESTION = / ?Did you mean .+\?$/;

/** In production, an error names no field, enum value or service the caller did not write. */
function hideSchemaDetails(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const { serviceName: _service, ...extensions } = formatted.extensions ?? {};
  return { ...formatted, message: formatted.message.replace(SUGGESTION, ''), extensions };
}

/**
 * Apollo `formatError` for subgraphs and the gateway: AppErrors keep their code and message,
 * GraphQL's own request errors pass, anything else is logged and masked. With `production`, no
 * "Did you mean" suggestions and no subgraph names.
 */
export function formatError(
  log: (error: unknown) => void,
  options: { production?: boolean } = {},
): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  const format = formatKnown(log);
  return options.production ? (formatted, error) => hideSchemaDetails(format(formatted, error)) : format;
}

function formatKnown(
  log: (error: unknown) => void,
): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const app = findAppError(error);
    if (app) {
      return {
        message: app.message,
        path: formatted.path,
        locations: formatted.locations,
        extensions: { code: app.code, ...(app.details ?? {}) },
      };
    }
    const code = String(formatted.extensions?.code ?? '');
    if (PASS_THROUGH.has(code) && code !== ErrorCode.Internal) return formatted;
    // GraphQL's own errors without a code (type-graphql's argument checks) are about the caller's input
    const ownError =
      error instanceof GraphQLError && (!error.originalError || error.originalError instanceof GraphQLError);
    if (ownError && !code)
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.BadUserInput } };
    log(error);
    return {
      message: 'Internal server error',
      path: formatted.path,
      locations: formatted.locations,
      extensions: { code: ErrorCode.Internal },
    };
  };
}
