-- A raw Pharow item already stored, recognised before it is parsed into rows: each position keeps the
-- fingerprint of the raw item that alone describes it, its company and its person (item_hash), and the
-- source hashes those three rows had then (item_rows, an md5 of the three). A repeat whose rows still carry
-- those source hashes would change nothing, so the ingest skips normalising and matching it. Only the
-- ingest reads these columns, always within one organisation.
ALTER TABLE crm.positions ADD COLUMN item_hash text, ADD COLUMN item_rows text;
CREATE INDEX positions_item_hash ON crm.positions (organisation_id, (item_hash COLLATE "C"))
  WHERE item_hash IS NOT NULL;
