#include "agent/runtime/kv_persistence.hpp"

#include <stdexcept>

#include "memory/kv_snapshot_file.hpp"
#include "memory/kv_snapshots.hpp"
#include "memory/session_snapshot.hpp"

namespace osprey::agent {

namespace {

std::unique_lock<std::mutex> hold(const KvPersistence& kv) {
    return kv.lock ? std::unique_lock<std::mutex>(*kv.lock) : std::unique_lock<std::mutex>();
}

}  // namespace

RestoreReport restore_context(ModelClient& client, const std::vector<std::int32_t>& context,
                              const std::vector<std::int32_t>& pending, const KvPersistence& kv) {
    const auto guard = hold(kv);
    RestoreReport report;
    if (!client.has_engine()) {
        client.restore(context, nullptr);
        report.restored_tokens = static_cast<std::int64_t>(context.size());
        return report;
    }
    if (!context.empty() && client.truncate_to(context)) {
        report.restored_tokens = static_cast<std::int64_t>(context.size());  // the live session
        return report;
    }
    std::vector<std::int32_t> wanted = context;
    wanted.insert(wanted.end(), pending.begin(), pending.end());
    std::unique_ptr<model::Session> restored;
    if (kv.db != nullptr && !wanted.empty()) {
        memory::KvSnapshots catalogue(*kv.db);
        while (auto best = catalogue.longest_prefix(client.fingerprint(), wanted)) {
            try {
                restored = std::make_unique<model::Session>(memory::read_session_snapshot(
                    client.backend(), best->file, client.fingerprint()));
                if (restored->tokens().size() > wanted.size() ||
                    !std::equal(restored->tokens().begin(), restored->tokens().end(),
                                wanted.begin())) {
                    throw memory::KvSnapshotError("snapshot " + best->file.string() +
                                                  " does not hold what its catalogue row says");
                }
                catalogue.touch(best->id);
                break;
            } catch (const std::exception& e) {
                report.discarded.push_back(e.what());
                restored.reset();
                catalogue.forget(best->id);
            }
        }
    }
    report.restored_tokens = restored ? restored->token_count() : 0;
    report.replayed_tokens = client.restore(context, std::move(restored), pending);
    return report;
}

std::optional<memory::KvSnapshotRecord> write_snapshot_file(ModelClient& client,
                                                            const std::string& session_id,
                                                            const KvPersistence& kv) {
    model::Session* session = client.session();
    if (session == nullptr || kv.db == nullptr || session->token_count() == 0) {
        return std::nullopt;
    }
    memory::KvSnapshotRecord rec;
    rec.session_id = session_id;
    rec.token_count = session->token_count();
    rec.prefix_hash = memory::token_prefix_hash(session->tokens());
    rec.model_fingerprint = client.fingerprint();
    rec.file = kv.folder / (session_id + "-" + std::to_string(rec.token_count) + "-" +
                            rec.prefix_hash.substr(0, 8) + ".kv");
    std::error_code ec;
    if (std::filesystem::exists(rec.file, ec)) {
        // This exact state is on disk already (a resumed session going over the same ground).
        rec.size_bytes = static_cast<std::int64_t>(std::filesystem::file_size(rec.file, ec));
        return rec;
    }
    std::filesystem::create_directories(kv.folder);
    rec.size_bytes = static_cast<std::int64_t>(
        memory::write_session_snapshot(*session, rec.file, client.fingerprint()));
    return rec;
}

void record_snapshot(const memory::KvSnapshotRecord& record, const KvPersistence& kv) {
    const auto guard = hold(kv);
    memory::KvSnapshots catalogue(*kv.db);
    for (const auto& old : catalogue.for_session(record.session_id, record.model_fingerprint)) {
        if (old.file == record.file) {
            catalogue.touch(old.id);
            return;
        }
        if (old.token_count == record.token_count) {
            catalogue.forget(old.id);  // same length, other tokens (after a rewind): replaced
        }
    }
    catalogue.record(record);
    catalogue.evict_to_budget(kv.budget_bytes);
}

void save_snapshot(ModelClient& client, const std::string& session_id, const KvPersistence& kv) {
    if (auto rec = write_snapshot_file(client, session_id, kv)) {
        record_snapshot(*rec, kv);
    }
}

std::int64_t parse_byte_size(const std::string& text) {
    std::size_t used = 0;
    long long n = -1;
    try {
        n = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    const std::string unit = text.substr(used);
    int shift = -1;
    if (unit.empty() || unit == "B") {
        shift = 0;
    } else if (unit == "K" || unit == "KiB" || unit == "k") {
        shift = 10;
    } else if (unit == "M" || unit == "MiB") {
        shift = 20;
    } else if (unit == "G" || unit == "GiB") {
        shift = 30;
    } else if (unit == "T" || unit == "TiB") {
        shift = 40;
    }
    if (used == 0 || n < 0 || shift < 0 || (shift > 0 && n >= (std::int64_t{1} << (62 - shift)))) {
        throw std::invalid_argument(
            "expected a size such as 512M, 20G or a number of bytes, got '" + text + "'");
    }
    return static_cast<std::int64_t>(n) << shift;
}

}  // namespace osprey::agent
