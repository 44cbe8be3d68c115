// Email syntax check and normalisation (trim, lower-case), shared by sign-up, invitations and ingest.
const EMAIL =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** The normalised email, or undefined when the value is not a syntactically valid address. */
export function normaliseEmail(value: string | null | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  const email = value.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) return undefined;
  const [local] = email.split('@');
  if (local.length > 64) return undefined;
  return email;
}

export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1);
}
