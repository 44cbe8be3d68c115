-- The claims are planned on every call. PL/pgSQL caches a statement's plan for the session and, after five
-- calls, keeps a generic one built from the table as it was then: a scheduler started on an empty tasks
-- table went on finding each claimed row through tasks_once by organisation alone, reading all of that
-- organisation's tasks for every one of them once a launch had filled the table (1 s a round for 1,000 of
-- 10,000 due tasks, against 25 ms planned afresh). Planning costs well under a millisecond.
ALTER FUNCTION outreach.claim_due_tasks(int, int, text, timestamptz) SET plan_cache_mode = force_custom_plan;
ALTER FUNCTION outreach.claim_outbox(int, int, text, timestamptz) SET plan_cache_mode = force_custom_plan;
