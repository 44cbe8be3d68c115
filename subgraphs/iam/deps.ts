import type { RequestContext } from '../../lib/graphql/context.ts';
import type { SystemMailer } from '../../lib/mail/system-mailer.ts';
import type { SessionDeps } from './services/session.service.ts';

export interface IamDeps extends SessionDeps {
  mailer: SystemMailer;
  /** Base of the links in invitation and password-reset mails. */
  publicUrl: string;
}
export type IamContext = RequestContext<IamDeps>;
