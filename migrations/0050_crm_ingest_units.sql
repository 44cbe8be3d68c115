-- Raw items that only together describe their rows: near-duplicates merged into one position, a company
-- filled in by several re-exports. No single item can stand for such a position (migration 0012), so every
-- repeat used to normalise and match them all again, with every item at the same companies. The ingest now
-- labels each such set of items (all the items that landed on one connected set of companies, people and
-- positions) as a unit: its positions carry the unit's hash in item_hash, and each member item is found
-- here. A later batch that holds exactly the same items in the same order, while every position of the
-- unit still carries its label and stamp, would change nothing: the ingest counts them unchanged unread.
-- Only the ingest reads this table, always within one organisation.
CREATE TABLE crm.ingest_items (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  -- the raw item's fingerprint (as positions.item_hash for an item that alone describes its position)
  item_hash text COLLATE "C" NOT NULL,
  -- the unit's hash: of its items' fingerprints in batch order
  unit_hash text COLLATE "C" NOT NULL,
  -- how many positions carry the unit's label while it holds
  positions int NOT NULL CHECK (positions > 0),
  PRIMARY KEY (organisation_id, item_hash)
);
SELECT public.enable_tenant_rls('crm.ingest_items');
GRANT SELECT, INSERT, UPDATE, DELETE ON crm.ingest_items TO prospectflow_crm;

-- Raw items refused, with what was wrong (field and message, in order): refusing depends on nothing but
-- the item and the normalisation rules (part of its fingerprint), so a repeat reports them unread.
CREATE TABLE crm.ingest_rejected (
  organisation_id uuid NOT NULL REFERENCES iam.organisations (id) ON DELETE CASCADE,
  item_hash text COLLATE "C" NOT NULL,
  rejections jsonb NOT NULL,
  PRIMARY KEY (organisation_id, item_hash)
);
SELECT public.enable_tenant_rls('crm.ingest_rejected');
GRANT SELECT, INSERT, UPDATE, DELETE ON crm.ingest_rejected TO prospectflow_crm;
