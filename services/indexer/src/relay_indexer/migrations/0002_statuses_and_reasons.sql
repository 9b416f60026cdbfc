-- Local moderation may also suspend (not only take down); record why statuses were changed, and
-- constrain the upstream status to the values #account events can carry.
ALTER TABLE accounts DROP CONSTRAINT accounts_local_status_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_local_status_check
    CHECK (local_status IN ('active', 'takendown', 'suspended', 'throttled'));
ALTER TABLE accounts ADD CONSTRAINT accounts_upstream_status_check
    CHECK (upstream_status IN ('active', 'takendown', 'suspended', 'deleted', 'deactivated',
                               'desynchronized', 'throttled'));
ALTER TABLE accounts ADD COLUMN local_status_reason TEXT;

ALTER TABLE hosts ADD COLUMN status_reason TEXT;
