#include "memory/store.hpp"

#include <chrono>
#include <cstdlib>
#include <system_error>

#include "memory/migrations.hpp"

namespace osprey::memory {

std::filesystem::path default_data_dir() {
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg == '/') {
        return std::filesystem::path(xdg) / "osprey";
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        return std::filesystem::path(home) / ".local" / "share" / "osprey";
    }
    throw DatabaseError(
        "cannot find a data folder: neither XDG_DATA_HOME nor HOME is set (use --data-dir)");
}

Store Store::open(const std::filesystem::path& data_dir) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
        throw DatabaseError("cannot create the data folder " + data_dir.string() + ": " +
                            ec.message());
    }
    std::filesystem::permissions(data_dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    Database db = Database::open(data_dir / "osprey.db");
    migrate(db);
    return Store(data_dir, std::move(db));
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace osprey::memory
