-- Backfill progress that must survive a restart: per job the crawled hosts and the last failure,
-- per item the failures, bytes and the total estimate (a host's account count) behind the ETA.
ALTER TABLE backfill_jobs ADD COLUMN hosts TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE backfill_jobs ADD COLUMN last_error TEXT;
ALTER TABLE backfill_items ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE backfill_items ADD COLUMN dids_failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE backfill_items ADD COLUMN dids_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE backfill_items ADD COLUMN bytes_fetched BIGINT NOT NULL DEFAULT 0;
-- At most one job runs at a time: jobs share the upstream politeness budget and the index writer.
CREATE UNIQUE INDEX backfill_jobs_one_running_idx ON backfill_jobs ((true)) WHERE state = 'running';
