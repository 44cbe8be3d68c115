// The IAM subgraph: organisations, users, memberships, sessions and API keys.
import type { SubgraphDefinition } from '../../lib/graphql/subgraph.ts';
import { createSystemMailer } from '../../lib/mail/system-mailer.ts';
import type { IamDeps } from './deps.ts';
import { ApiKey } from './entities/api-key.entity.ts';
import { Invitation } from './entities/invitation.entity.ts';
import { Membership } from './entities/membership.entity.ts';
import { Organisation } from './entities/organisation.entity.ts';
import { RefreshToken } from './entities/refresh-token.entity.ts';
import { User } from './entities/user.entity.ts';
import { ApiKeyResolver } from './resolvers/api-key.resolver.ts';
import { AuthResolver } from './resolvers/auth.resolver.ts';
import { meDirect } from './resolvers/me.direct.ts';
import { MemberResolver } from './resolvers/member.resolver.ts';
import { OrganisationResolver } from './resolvers/organisation.resolver.ts';
import { PasswordResetResolver } from './resolvers/password-reset.resolver.ts';
import { iamReferences } from './resolvers/references.ts';

export const iamSubgraph: SubgraphDefinition<IamDeps> = {
  name: 'iam',
  entities: [Organisation, User, Membership, RefreshToken, Invitation, ApiKey],
  tenantEntities: ['Membership', 'RefreshToken', 'Invitation', 'ApiKey'],
  resolvers: [AuthResolver, PasswordResetResolver, OrganisationResolver, MemberResolver, ApiKeyResolver],
  references: iamReferences,
  direct: [meDirect],
  deps: ({ config, orm, tokens, log }) => ({
    orm,
    tokens,
    refreshTokenDays: config.auth.refreshTokenDays,
    publicUrl: config.publicUrl,
    mailer: createSystemMailer({
      smtpUrl: config.mail.smtpUrl,
      from: config.mail.from,
      dataDir: config.dataDir,
      log,
    }),
  }),
};
