#pragma once
// Content-addressed storage of file contents (the files the agent changed, as they were before), so
// rewind can restore them. Identical contents are stored once.

#include <optional>
#include <string>
#include <string_view>

#include "memory/database.hpp"

namespace osprey::memory {

// 32 hex digits of XXH3-128 over the bytes.
std::string content_hash(std::string_view bytes);

class Blobs {
public:
    explicit Blobs(Database& db) : db_(db) {}

    // Stores `bytes` unless already present; returns its hash.
    std::string put(std::string_view bytes);
    // The bytes, or nullopt when unknown. Throws DatabaseError when the stored bytes no longer
    // match their hash (a corrupted database), naming the hash.
    std::optional<std::string> get(std::string_view hash);

private:
    Database& db_;
};

}  // namespace osprey::memory
