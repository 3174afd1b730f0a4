#pragma once
// A sqlite3 connection with RAII statements and transactions. Errors throw DatabaseError carrying
// sqlite's message, the SQL, and the file, so a user can act on them.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace osprey::memory {

class DatabaseError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Statement;

class Database {
public:
    // Opens (creating if needed) with WAL journaling, foreign keys on and a busy timeout, so a
    // crash loses at most the transaction in flight and a second process waits instead of failing.
    static Database open(const std::filesystem::path& path);
    // A private in-memory database (tests, scratch work).
    static Database open_in_memory();

    Database(Database&& other) noexcept;
    Database& operator=(Database&& other) noexcept;
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    ~Database();

    // Runs one or more statements that return no rows.
    void exec(std::string_view sql);
    Statement prepare(std::string_view sql);
    std::int64_t last_insert_rowid() const;
    int changes() const;
    const std::filesystem::path& path() const { return path_; }

private:
    Database(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
    static Database connect(const std::string& target, std::filesystem::path path, int flags);
    friend class Statement;
    [[noreturn]] void fail(std::string_view what, std::string_view sql) const;

    sqlite3* db_ = nullptr;
    std::filesystem::path path_;
};

// A prepared statement. Parameters are 1-based as in SQL (?1, ?2 ...); columns are 0-based.
class Statement {
public:
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view text);
    Statement& bind_blob(int index, std::string_view bytes);
    Statement& bind_null(int index);

    // Advances to the next row: true when a row is available, false when done.
    bool step();
    // Runs a statement that returns no rows.
    void run();
    void reset();

    bool is_null(int column) const;
    std::int64_t column_int(int column) const;
    double column_double(int column) const;
    std::string column_text(int column) const;
    std::string column_blob(int column) const;
    std::optional<std::string> column_optional_text(int column) const;

private:
    friend class Database;
    Statement(const Database* db, sqlite3_stmt* stmt, std::string sql)
        : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
    void check_bind(int rc, int index);

    const Database* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
    std::string sql_;
};

// Commits on commit(); rolls back when destroyed without it (an exception unwinding, for example).
class Transaction {
public:
    explicit Transaction(Database& db);
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    ~Transaction();
    void commit();

private:
    Database& db_;
    bool done_ = false;
};

}  // namespace osprey::memory
