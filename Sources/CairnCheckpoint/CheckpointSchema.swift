/// The on-disk layout: constants and DDL. `CheckpointFormat.md` explains every table.
enum CheckpointSchema {
    /// `PRAGMA application_id`: the ASCII bytes "CRN1" read as a big-endian integer.
    static let applicationID: Int64 = 0x4352_4E31
    /// `PRAGMA user_version`: the format version this engine writes and reads.
    static let formatVersion: Int64 = 1
    /// Deepest tree a writer accepts and a reader follows; deeper means a hostile file.
    static let maximumDepth = 200
    /// Pages big enough that a multi-MiB chunk is a few dozen overflow pages.
    static let largePageSize = 65536
    /// Below this much tensor data, 4 KiB pages: a 118 KiB training state then
    /// makes a 172 KiB file instead of a 704 KiB one, and a faster durable save.
    static let smallStateBytes = 8 << 20

    /// SQLite's default page size, for small states.
    static let smallPageSize = 4096

    /// The page size for a checkpoint holding `tensorBytes` bytes of tensors.
    static func pageSize(forTensorBytes tensorBytes: Int) -> Int {
        tensorBytes < smallStateBytes ? smallPageSize : largePageSize
    }

    /// Untyped columns (`key`, `value`) have BLOB affinity, so SQLite stores
    /// each value with the storage class it was bound with, never converting.
    static let createTables = """
        CREATE TABLE metadata(
            key TEXT PRIMARY KEY NOT NULL,
            value
        ) WITHOUT ROWID;
        CREATE TABLE snapshots(
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            producer TEXT NOT NULL,
            producer_version TEXT NOT NULL,
            epoch INTEGER,
            global_step INTEGER,
            tensor_count INTEGER NOT NULL,
            total_bytes INTEGER NOT NULL
        );
        CREATE TABLE nodes(
            snapshot_id INTEGER NOT NULL,
            id INTEGER NOT NULL,
            parent_id INTEGER,
            position INTEGER NOT NULL,
            key,
            kind TEXT NOT NULL,
            value,
            path TEXT NOT NULL,
            PRIMARY KEY(snapshot_id, id)
        ) WITHOUT ROWID;
        CREATE TABLE chunks(
            id INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            byte_count INTEGER NOT NULL,
            data BLOB NOT NULL
        );
        CREATE TABLE tensors(
            snapshot_id INTEGER NOT NULL,
            node_id INTEGER NOT NULL,
            path TEXT NOT NULL,
            dtype TEXT NOT NULL,
            shape TEXT NOT NULL,
            byte_count INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            chunk_count INTEGER NOT NULL,
            PRIMARY KEY(snapshot_id, node_id)
        ) WITHOUT ROWID;
        CREATE TABLE tensor_chunks(
            snapshot_id INTEGER NOT NULL,
            node_id INTEGER NOT NULL,
            chunk_index INTEGER NOT NULL,
            chunk_id INTEGER NOT NULL REFERENCES chunks(id),
            PRIMARY KEY(snapshot_id, node_id, chunk_index)
        ) WITHOUT ROWID;
        """

    /// Values of `nodes.kind`.
    enum NodeKind: String {
        case dictionary = "dict", list, int, double, string, bool, null, bytes, tensor
    }
}
