#include "memory/session_snapshot.hpp"

#include <stdexcept>

#include "model/errors.hpp"

namespace osprey::memory {

std::uint64_t write_session_snapshot(const model::Session& session,
                                     const std::filesystem::path& file,
                                     std::string_view model_fingerprint) {
    KvSnapshotWriter writer(file, model_fingerprint, session.tokens());
    session.save_state([&writer](std::string_view name, std::span<const std::byte> bytes) {
        writer.add_section(name, bytes);
    });
    return writer.commit();
}

model::Session read_session_snapshot(std::shared_ptr<model::Backend> backend,
                                     const std::filesystem::path& file,
                                     std::string_view model_fingerprint) {
    const KvSnapshotView view = KvSnapshotView::open(file, model_fingerprint);
    const auto fail = [&file](const std::string& why) {
        return KvSnapshotError("KV snapshot " + file.string() + " does not fit: " + why);
    };
    try {
        return model::Session::restore(std::move(backend), view.tokens(),
                                       [&view](std::string_view name) { return view.find(name); });
    } catch (const model::StateFormatError& e) {
        throw fail(e.what());
    } catch (const std::logic_error& e) {
        // Options this backend refuses (invalid_argument: capacity ...), or a backend that cannot
        // restore saved state at all.
        throw fail(e.what());
    }
}

}  // namespace osprey::memory
