import type { SessionDeps } from './services/session.service.ts';

export type IamDeps = SessionDeps;
