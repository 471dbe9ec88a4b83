-- Server secrets (the STS key ring...), sealed under the KEK with the name
-- as associated data; `version` drives compare-and-swap between nodes.
CREATE TABLE secrets (
    name    TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    sealed  BLOB NOT NULL
);
