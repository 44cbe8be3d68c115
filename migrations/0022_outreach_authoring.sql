-- Outreach authoring: steps re-numbered in one statement when one is removed, a step or variant written
-- either from templates or by a prompt, and the count of a mailbox's messages sent today.

-- Removing a step moves the later ones down by one in a single UPDATE: uniqueness of the index is checked
-- when the statement ends, not row by row (a non-deferrable constraint would trip on the row order).
ALTER TABLE outreach.workflow_steps
  DROP CONSTRAINT workflow_steps_organisation_id_campaign_id_index_key,
  ADD CONSTRAINT workflow_steps_campaign_index UNIQUE (organisation_id, campaign_id, index) DEFERRABLE INITIALLY IMMEDIATE;

-- Templates or a prompt, never both (the service says which field is wrong; this is the last wall).
ALTER TABLE outreach.workflow_steps
  ADD CONSTRAINT workflow_steps_template_or_prompt
    CHECK (prompt_id IS NULL OR (subject_template IS NULL AND body_template IS NULL));
ALTER TABLE outreach.step_experiment_variants
  ADD CONSTRAINT step_experiment_variants_template_or_prompt
    CHECK (prompt_id IS NULL OR (subject_template IS NULL AND body_template IS NULL)),
  ADD CONSTRAINT step_experiment_variants_positive_weight CHECK (weight > 0);

-- Mailbox.sentToday: messages a mailbox sent since its local midnight.
CREATE INDEX messages_mailbox_sent ON outreach.messages (organisation_id, mailbox_id, sent_at)
  WHERE direction = 'OUTBOUND' AND sent_at IS NOT NULL;
