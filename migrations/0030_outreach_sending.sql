-- Sending: a message being sent carries a lease (who sends it, until when) and its attempts, so a sender that
-- died mid-send is found out and its message looked up in the mailbox before anything is sent again; a mailbox
-- Gmail asked to slow down is paused until a given time for every send.

ALTER TABLE outreach.messages
  -- the sender holding a SENDING message; once leased_until has passed the message is anyone's to look up
  ADD COLUMN leased_by text,
  ADD COLUMN leased_until timestamptz,
  ADD COLUMN attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0);
-- messages left in SENDING by a sender that died
CREATE INDEX messages_sending ON outreach.messages (leased_until) WHERE status = 'SENDING';
-- a mailbox's daily cap and spacing: what it sent or is sending, by time (a claim stamps sent_at)
CREATE INDEX messages_mailbox_sending ON outreach.messages (organisation_id, mailbox_id, sent_at)
  WHERE status IN ('SENT', 'SENDING');
-- the earlier emails of an enrolment's thread (In-Reply-To, References, Gmail's threadId)
CREATE INDEX messages_enrollment_step ON outreach.messages (organisation_id, enrollment_id, step_index)
  WHERE direction = 'OUTBOUND' AND status = 'SENT';

-- Gmail answered 429 (or a rate reason): no send from this mailbox before then.
ALTER TABLE outreach.mailboxes ADD COLUMN paused_until timestamptz;

-- a message's SEND task: found from the message when its outcome is written
CREATE INDEX tasks_message ON outreach.tasks (organisation_id, message_id) WHERE message_id IS NOT NULL;
