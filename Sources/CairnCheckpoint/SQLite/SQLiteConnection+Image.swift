import CSQLite

extension SQLiteConnection {
    /// Replaces the main database with a copy of `image`, a whole database file's bytes:
    /// see [sqlite3_deserialize](https://sqlite.org/c3ref/deserialize.html).
    /// The connection then works in memory in a buffer of `capacity` bytes,
    /// growing it (by reallocating and copying) only when the database outgrows it.
    func loadImage(_ image: UnsafeRawBufferPointer, capacity: Int) throws {
        let capacity = max(capacity, image.count, 1)
        guard let copy = sqlite3_malloc64(UInt64(capacity)) else {
            throw error(SQLITE_NOMEM, "allocate \(image.count) bytes for a database image")
        }
        if let base = image.baseAddress { copy.copyMemory(from: base, byteCount: image.count) }
        let flags = UInt32(SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE)
        // With FREEONCLOSE SQLite owns `copy` from here on, even when it fails.
        try check(sqlite3_deserialize(rawHandle, "main", copy.assumingMemoryBound(to: UInt8.self),
                                      Int64(image.count), Int64(capacity), flags),
                  "load database image")
    }

    /// Lends the main database's bytes, exactly as its file would hold them:
    /// see [sqlite3_serialize](https://sqlite.org/c3ref/serialize.html).
    /// A database built by ``loadImage(_:)`` is lent without a copy.
    func withImage<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        var size: Int64 = 0
        if let borrowed = sqlite3_serialize(rawHandle, "main", &size, UInt32(SQLITE_SERIALIZE_NOCOPY)) {
            return try body(UnsafeRawBufferPointer(start: borrowed, count: Int(size)))
        }
        guard let copied = sqlite3_serialize(rawHandle, "main", &size, 0) else {
            throw error(SQLITE_NOMEM, "serialize the database")
        }
        defer { sqlite3_free(copied) }
        return try body(UnsafeRawBufferPointer(start: copied, count: Int(size)))
    }
}
