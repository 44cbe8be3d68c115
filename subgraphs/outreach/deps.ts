import type { Config } from '../../lib/config.ts';
import { AppError, ErrorCode } from '../../lib/errors.ts';
import type { GoogleSettings } from '../../lib/google/gmail-auth.ts';
import type { RequestContext } from '../../lib/graphql/context.ts';
import { createSecretBox, type SecretBox } from '../../lib/secrets/secret-box.ts';
import { loadOrCreateSecretsKey } from '../../lib/secrets/secrets-key.ts';

export interface OutreachDeps {
  /** Seals mailbox credentials. */
  secrets: SecretBox;
  google: GoogleSettings;
  /** Whether prompts can draft (OPENAI_API_KEY set): steps that use a prompt are refused otherwise. */
  aiDrafting: boolean;
}
export type OutreachContext = RequestContext<OutreachDeps>;

export async function outreachDeps(config: Readonly<Config>): Promise<OutreachDeps> {
  // A key generated inside a container's data directory dies with the container, and the credentials with it.
  if (config.env === 'production' && !config.secretsKey)
    throw new AppError(
      ErrorCode.ConfigInvalid,
      'SECRETS_KEY is required in production (generate one with: openssl rand -base64 32)',
    );
  const key = await loadOrCreateSecretsKey({ configured: config.secretsKey, dataDir: config.dataDir });
  return {
    secrets: createSecretBox(key),
    google: config.gmail,
    aiDrafting: config.openai.apiKey !== undefined,
  };
}
