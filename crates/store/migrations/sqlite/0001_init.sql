-- castguard store schema, SQLite flavour.
-- Entities are JSON documents (`body`) plus the columns that queries and
-- foreign keys need. Names compare in byte order (BINARY collation); the
-- Postgres schema must use COLLATE "C" on name columns to page identically.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

CREATE TABLE assets (
    name TEXT PRIMARY KEY NOT NULL,
    body TEXT NOT NULL
);

-- Policies carry token verification secrets: the whole document is sealed
-- under the KEK (see src/kek.rs).
CREATE TABLE content_key_policies (
    name        TEXT PRIMARY KEY NOT NULL,
    body_sealed BLOB NOT NULL
);

CREATE TABLE content_keys (
    name          TEXT PRIMARY KEY NOT NULL,
    key_id        BLOB NOT NULL UNIQUE,
    key_type      TEXT NOT NULL,
    policy_name   TEXT REFERENCES content_key_policies (name),
    -- AES-256-GCM: version || nonce || ciphertext || tag, AAD = key id.
    wrapped_value BLOB NOT NULL,
    -- Metadata only; never the value.
    body          TEXT NOT NULL
);
CREATE INDEX content_keys_policy_name ON content_keys (policy_name);

CREATE TABLE streaming_policies (
    name       TEXT PRIMARY KEY NOT NULL,
    predefined INTEGER NOT NULL DEFAULT 0,
    body       TEXT NOT NULL
);

-- Every content key policy a streaming policy names (default and per key).
CREATE TABLE streaming_policy_key_policies (
    streaming_policy_name   TEXT NOT NULL REFERENCES streaming_policies (name) ON DELETE CASCADE,
    content_key_policy_name TEXT NOT NULL REFERENCES content_key_policies (name),
    PRIMARY KEY (streaming_policy_name, content_key_policy_name)
);
CREATE INDEX streaming_policy_key_policies_ckp ON streaming_policy_key_policies (content_key_policy_name);

CREATE TABLE streaming_locators (
    name                            TEXT PRIMARY KEY NOT NULL,
    locator_id                      BLOB NOT NULL UNIQUE,
    asset_name                      TEXT NOT NULL REFERENCES assets (name),
    streaming_policy_name           TEXT NOT NULL REFERENCES streaming_policies (name),
    default_content_key_policy_name TEXT REFERENCES content_key_policies (name),
    body                            TEXT NOT NULL
);
CREATE INDEX streaming_locators_asset ON streaming_locators (asset_name);
CREATE INDEX streaming_locators_streaming_policy ON streaming_locators (streaming_policy_name);
CREATE INDEX streaming_locators_ckp ON streaming_locators (default_content_key_policy_name);

CREATE TABLE streaming_locator_keys (
    locator_name TEXT NOT NULL REFERENCES streaming_locators (name) ON DELETE CASCADE,
    key_id       BLOB NOT NULL REFERENCES content_keys (key_id),
    PRIMARY KEY (locator_name, key_id)
);
CREATE INDEX streaming_locator_keys_key_id ON streaming_locator_keys (key_id);

-- Replay prevention: uses of a token so far. expires_at is Unix seconds.
CREATE TABLE token_uses (
    token_id   BLOB PRIMARY KEY NOT NULL,
    uses       INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX token_uses_expires_at ON token_uses (expires_at);
