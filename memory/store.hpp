#pragma once
// The Osprey data folder: one sqlite database (osprey.db, schema migrated on open) plus the folders
// for KV snapshot files. Default location: $XDG_DATA_HOME/osprey, else ~/.local/share/osprey.

#include <filesystem>

#include "memory/database.hpp"

namespace osprey::memory {

// $XDG_DATA_HOME/osprey or $HOME/.local/share/osprey; throws DatabaseError when neither variable is
// set.
std::filesystem::path default_data_dir();

class Store {
public:
    // Creates the folder (mode 0700: it holds transcripts) and the database when missing, migrates.
    static Store open(const std::filesystem::path& data_dir);

    Database& db() { return db_; }
    const std::filesystem::path& data_dir() const { return data_dir_; }
    std::filesystem::path kv_dir() const { return data_dir_ / "kv"; }

private:
    Store(std::filesystem::path dir, Database db) : data_dir_(std::move(dir)), db_(std::move(db)) {}

    std::filesystem::path data_dir_;
    Database db_;
};

// Unix time in milliseconds, the unit of every *_at column.
std::int64_t now_ms();

}  // namespace osprey::memory
