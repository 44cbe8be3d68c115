// The texts of invitation and password-reset mails; each link carries its token, read only by the mailbox's owner.
import type { SystemMail } from '../../../lib/mail/system-mailer.ts';

function link(publicUrl: string, path: string, token: string): string {
  const url = new URL(path, publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`);
  url.searchParams.set('token', token);
  return url.toString();
}

export function invitationMail(options: {
  to: string;
  organisationName: string;
  role: string;
  token: string;
  publicUrl: string;
  hasAccount: boolean;
  expiresAt: Date;
}): SystemMail {
  const how = options.hasAccount
    ? [
        'This address already has a ProspectFlow account: accept with its password, or while logged in to it',
        '(acceptInvitation with the token below). If you do not know that password, or did not create that',
        'account, ask for a password reset for this address first: the reset ends every session of the account.',
      ]
    : ['Accept by choosing a password (acceptInvitation with the token below and a password).'];
  return {
    to: options.to,
    subject: `You are invited to join ${options.organisationName} on ProspectFlow`,
    text: [
      `You are invited to join ${options.organisationName} on ProspectFlow as ${options.role}.`,
      '',
      ...how,
      '',
      `Accept: ${link(options.publicUrl, 'invitations/accept', options.token)}`,
      '',
      'Token:',
      options.token,
      '',
      `The invitation expires on ${options.expiresAt.toISOString()}. If you did not expect it, ignore this mail.`,
      '',
    ].join('\n'),
  };
}

export function passwordResetMail(options: {
  to: string;
  token: string;
  publicUrl: string;
  expiresAt: Date;
}): SystemMail {
  return {
    to: options.to,
    subject: 'Reset your ProspectFlow password',
    text: [
      'Someone asked to reset the password of the ProspectFlow account with this address.',
      'Choosing a new password ends every session of the account, in every organisation.',
      '',
      `Reset: ${link(options.publicUrl, 'password-reset', options.token)}`,
      '',
      'Token (resetPassword):',
      options.token,
      '',
      `The link works once, until ${options.expiresAt.toISOString()}. If you did not ask, ignore this mail.`,
      '',
    ].join('\n'),
  };
}
