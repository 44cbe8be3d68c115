// Talking to the gateway the way a client does: HTTP POST of typed documents.
import { randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { inject } from 'vitest';
import { type SessionFragment, SignUpDocument } from '../generated/graphql.ts';

export interface GraphQLResponse<T> {
  status: number;
  data: T | null | undefined;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  headers?: Record<string, string>;
  url?: string;
}

export async function gql<TData, TVars>(
  document: TypedDocumentNode<TData, TVars> | string,
  variables?: TVars,
  options: CallOptions = {},
): Promise<GraphQLResponse<TData>> {
  const res = await fetch(options.url ?? inject('gatewayUrl'), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
  });
  const body = (await res.json()) as { data?: TData; errors?: GraphQLResponse<TData>['errors'] };
  return { status: res.status, data: body.data, errors: body.errors, headers: res.headers };
}

/** The data, or a thrown error showing the GraphQL errors. */
export async function ok<TData, TVars>(
  document: TypedDocumentNode<TData, TVars> | string,
  variables?: TVars,
  options: CallOptions = {},
): Promise<TData> {
  const res = await gql(document, variables, options);
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

export function errorCode(res: GraphQLResponse<unknown>): string | undefined {
  return res.errors?.[0]?.extensions?.code;
}

export const PASSWORD = 'correct horse battery staple';

export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}.${randomUUID().slice(0, 8)}@example-${randomUUID().slice(0, 6)}.fr`;
}

/** A fresh organisation with its owner logged in. */
export async function newOrganisation(
  name = `Org ${randomUUID().slice(0, 8)}`,
): Promise<SessionFragment & { password: string }> {
  const data = await ok(SignUpDocument, {
    input: {
      organisationName: name,
      email: uniqueEmail('owner'),
      password: PASSWORD,
      firstName: 'Camille',
      lastName: 'Martin',
    },
  });
  return { ...data.signUp, password: PASSWORD };
}
