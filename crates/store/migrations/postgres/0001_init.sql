-- castguard store schema, Postgres flavour of migrations/sqlite/0001_init.sql:
-- the same tables, columns and queries. Names are COLLATE "C" so that they
-- compare (and page) in byte order as SQLite's BINARY collation does; blobs
-- are BYTEA; integers are BIGINT (Unix seconds, counters) so that both
-- databases return the same 64-bit values.

CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL
);

CREATE TABLE assets (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    body TEXT NOT NULL
);

-- Policies carry token verification secrets: the whole document is sealed
-- under the KEK (see src/kek.rs).
CREATE TABLE content_key_policies (
    name        TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    body_sealed BYTEA NOT NULL
);

CREATE TABLE content_keys (
    name          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    key_id        BYTEA NOT NULL UNIQUE,
    key_type      TEXT NOT NULL,
    policy_name   TEXT COLLATE "C" REFERENCES content_key_policies (name),
    -- AES-256-GCM: version || nonce || ciphertext || tag, AAD = key id.
    wrapped_value BYTEA NOT NULL,
    -- Metadata only; never the value.
    body          TEXT NOT NULL
);
CREATE INDEX content_keys_policy_name ON content_keys (policy_name);

CREATE TABLE streaming_policies (
    name       TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    predefined BIGINT NOT NULL DEFAULT 0,
    body       TEXT NOT NULL
);

-- Every content key policy a streaming policy names (default and per key).
CREATE TABLE streaming_policy_key_policies (
    streaming_policy_name   TEXT COLLATE "C" NOT NULL REFERENCES streaming_policies (name) ON DELETE CASCADE,
    content_key_policy_name TEXT COLLATE "C" NOT NULL REFERENCES content_key_policies (name),
    PRIMARY KEY (streaming_policy_name, content_key_policy_name)
);
CREATE INDEX streaming_policy_key_policies_ckp ON streaming_policy_key_policies (content_key_policy_name);

CREATE TABLE streaming_locators (
    name                            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    locator_id                      BYTEA NOT NULL UNIQUE,
    asset_name                      TEXT COLLATE "C" NOT NULL REFERENCES assets (name),
    streaming_policy_name           TEXT COLLATE "C" NOT NULL REFERENCES streaming_policies (name),
    default_content_key_policy_name TEXT COLLATE "C" REFERENCES content_key_policies (name),
    body                            TEXT NOT NULL
);
CREATE INDEX streaming_locators_asset ON streaming_locators (asset_name);
CREATE INDEX streaming_locators_streaming_policy ON streaming_locators (streaming_policy_name);
CREATE INDEX streaming_locators_ckp ON streaming_locators (default_content_key_policy_name);

CREATE TABLE streaming_locator_keys (
    locator_name TEXT COLLATE "C" NOT NULL REFERENCES streaming_locators (name) ON DELETE CASCADE,
    key_id       BYTEA NOT NULL REFERENCES content_keys (key_id),
    PRIMARY KEY (locator_name, key_id)
);
CREATE INDEX streaming_locator_keys_key_id ON streaming_locator_keys (key_id);

-- Replay prevention: uses of a token so far. expires_at is Unix seconds.
CREATE TABLE token_uses (
    token_id   BYTEA PRIMARY KEY NOT NULL,
    uses       BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX token_uses_expires_at ON token_uses (expires_at);
