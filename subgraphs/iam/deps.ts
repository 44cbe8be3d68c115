import type { RequestContext } from '../../lib/graphql/context.ts';
import type { SessionDeps } from './services/session.service.ts';

export type IamDeps = SessionDeps;
export type IamContext = RequestContext<IamDeps>;
