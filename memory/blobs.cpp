#include "memory/blobs.hpp"

#include <xxhash.h>

#include <cstdio>

namespace osprey::memory {

std::string content_hash(std::string_view bytes) {
    const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
    char hex[33];
    std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return hex;
}

std::string Blobs::put(std::string_view bytes) {
    std::string hash = content_hash(bytes);
    auto q = db_.prepare("INSERT OR IGNORE INTO blobs(hash, size, content) VALUES (?1, ?2, ?3);");
    q.bind(1, std::string_view(hash))
        .bind(2, static_cast<std::int64_t>(bytes.size()))
        .bind_blob(3, bytes)
        .run();
    return hash;
}

std::optional<std::string> Blobs::get(std::string_view hash) {
    auto q = db_.prepare("SELECT content FROM blobs WHERE hash = ?1;");
    q.bind(1, hash);
    if (!q.step()) {
        return std::nullopt;
    }
    std::string bytes = q.column_blob(0);
    if (content_hash(bytes) != hash) {
        throw DatabaseError("blob " + std::string(hash) + " in " + db_.path().string() +
                            " is corrupted (its bytes no longer match their hash)");
    }
    return bytes;
}

}  // namespace osprey::memory
