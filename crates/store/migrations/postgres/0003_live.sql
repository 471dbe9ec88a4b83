-- Live events and the outputs that record them into assets (Postgres
-- flavour of migrations/sqlite/0003_live.sql).
CREATE TABLE live_events (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE live_outputs (
    name            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    live_event_name TEXT COLLATE "C" NOT NULL REFERENCES live_events (name),
    asset_name      TEXT COLLATE "C" NOT NULL REFERENCES assets (name),
    body            TEXT NOT NULL
);
CREATE INDEX live_outputs_event ON live_outputs (live_event_name);
CREATE INDEX live_outputs_asset ON live_outputs (asset_name);
