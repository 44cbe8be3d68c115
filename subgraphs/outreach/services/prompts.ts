// Prompts are versioned by name: saving a name again adds the next version, and every version stays, since
// steps keep the exact version (row) they were given.
import { randomUUID } from 'node:crypto';
import { type EntityManager, rawQuery } from '../../../lib/db/orm.ts';
import { badInput } from '../../../lib/errors.ts';
import { Prompt } from '../entities/prompt.entity.ts';

const MAX_TEXT = 20_000;
const MODEL = /^[\w.:/-]{1,100}$/;

export async function createPrompt(
  em: EntityManager,
  organisationId: string,
  input: { name: string; text: string; model?: string | null },
): Promise<Prompt> {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200)
    throw badInput('name must be 1-200 characters', { field: 'name' });
  if (!input.text.trim() || input.text.length > MAX_TEXT) {
    throw badInput(`text must be 1-${MAX_TEXT} characters`, { field: 'text' });
  }
  const model = input.model?.trim() || null;
  if (model !== null && !MODEL.test(model)) {
    throw badInput('model must be a model name such as gpt-4o-mini', { field: 'model' });
  }
  // two saves of one name at once would both pick the same version: they take turns on the name instead
  await rawQuery(em, 'SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [
    `prompt:${organisationId}:${name}`,
  ]);
  const [{ version }] = await rawQuery<{ version: number }>(
    em,
    'SELECT coalesce(max(version), 0)::int + 1 AS version FROM outreach.prompts WHERE organisation_id = ? AND name = ?',
    [organisationId, name],
  );
  const prompt = Object.assign(new Prompt(), {
    id: randomUUID(),
    organisationId,
    name,
    version,
    model,
    text: input.text,
  });
  em.persist(prompt);
  await em.flush();
  return prompt;
}
