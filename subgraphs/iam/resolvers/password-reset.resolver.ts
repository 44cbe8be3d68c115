// Password resets by mail: whoever reads the address's mailbox can always take its account back.
import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import { checkPasswordStrength, hashPassword } from '../../../lib/auth/password.ts';
import { hashSecret, newOpaqueToken } from '../../../lib/auth/tokens.ts';
import { badInput, unauthenticated } from '../../../lib/errors.ts';
import { normaliseEmail } from '../../../lib/validation/email.ts';
import type { IamContext } from '../deps.ts';
import { passwordResetMail } from '../services/account-mail.ts';

const RESET_MINUTES = 60;
// per account, on top of the gateway's per-client limit: nobody floods a mailbox with reset mails
const RESETS_PER_HOUR = 5;

@Resolver()
export class PasswordResetResolver {
  @Authorized('public')
  @Mutation(() => Boolean, {
    description:
      'Mails a single-use password reset link to the address if it has an account. Always answers true, so it tells nobody whether an account exists',
  })
  async requestPasswordReset(
    @Arg('email', () => String) emailInput: string,
    @Ctx() ctx: IamContext,
  ): Promise<boolean> {
    const email = normaliseEmail(emailInput);
    if (!email) return true;
    const token = newOpaqueToken();
    const expiresAt = new Date(Date.now() + RESET_MINUTES * 60_000);
    const [row] = await ctx.orm.em
      .getConnection()
      .execute<{ created: boolean }[]>(
        'SELECT iam.create_password_reset(?, ?, ?, ?) AS created',
        [email, hashSecret(token), expiresAt, RESETS_PER_HOUR],
        'all',
      );
    if (row?.created) {
      // not awaited: the answer must take as long whether or not a mail goes out
      ctx.deps.mailer
        .send(passwordResetMail({ to: email, token, publicUrl: ctx.deps.publicUrl, expiresAt }))
        .catch((err) => ctx.log.error({ err }, 'password reset mail not sent'));
    }
    return true;
  }

  @Authorized('public')
  @Mutation(() => Boolean, {
    description:
      'Sets a new password with the token from a reset mail, and ends every session of the account (all organisations, refresh tokens included)',
  })
  async resetPassword(
    @Arg('token', () => String) token: string,
    @Arg('password', () => String) password: string,
    @Ctx() ctx: IamContext,
  ): Promise<boolean> {
    const weak = checkPasswordStrength(password);
    if (weak) throw badInput(weak, { field: 'password' });
    const passwordHash = await hashPassword(password);
    const [row] = await ctx.orm.em
      .getConnection()
      .execute<{ user_id: string | null }[]>(
        'SELECT iam.complete_password_reset(?, ?) AS user_id',
        [hashSecret(token), passwordHash],
        'all',
      );
    if (!row?.user_id) throw unauthenticated('Invalid, used or expired password reset link');
    ctx.log.info({ userId: row.user_id }, 'password reset; every session of the account ended');
    return true;
  }
}
