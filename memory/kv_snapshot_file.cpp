#include "memory/kv_snapshot_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace osprey::memory {
namespace {

constexpr char kMagic[8] = {'O', 'S', 'P', 'R', 'E', 'Y', 'K', 'V'};
constexpr char kEnd[8] = {'K', 'V', 'E', 'N', 'D', '\0', '\0', '\0'};

std::string errno_text() {
    return std::strerror(errno);
}

void fsync_dir(const std::filesystem::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

// Sequential reader over the whole (mapped) file with bounds checks that name what was cut short.
class Reader {
public:
    Reader(const std::filesystem::path& path, const char* data, std::size_t size)
        : path_(path), data_(data), size_(size) {}
    const char* take(std::size_t n, const char* what) {
        if (n > size_ - pos_) {
            throw KvSnapshotError("KV snapshot " + path_.string() + " is truncated (in " + what +
                                  " at byte " + std::to_string(pos_) + " of " +
                                  std::to_string(size_) + ")");
        }
        const char* p = data_ + pos_;
        pos_ += n;
        return p;
    }
    template <typename T>
    T read(const char* what) {
        T v;
        std::memcpy(&v, take(sizeof v, what), sizeof v);
        return v;
    }
    std::size_t pos() const { return pos_; }
    std::size_t size() const { return size_; }
    const char* at(std::size_t offset) const { return data_ + offset; }

private:
    const std::filesystem::path& path_;
    const char* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

}  // namespace

KvSnapshotWriter::KvSnapshotWriter(std::filesystem::path path, std::string_view model_fingerprint,
                                   std::span<const std::int32_t> tokens)
    : path_(std::move(path)), temp_(path_.string() + ".tmp") {
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) {
        throw KvSnapshotError("cannot create " + temp_.string() + ": " + errno_text());
    }
    header_.assign(kMagic, sizeof kMagic);
    const auto append = [this](const auto& v) {
        header_.append(reinterpret_cast<const char*>(&v), sizeof v);
    };
    append(kKvSnapshotVersion);
    count_offset_ = header_.size();
    append(std::uint32_t{0});  // section count, patched at commit()
    append(static_cast<std::uint64_t>(tokens.size()));
    append(static_cast<std::uint32_t>(model_fingerprint.size()));
    header_.append(model_fingerprint);
    write(header_.data(), header_.size());
    // The header checksum is written at commit(), once the section count is known; reserve it.
    const std::uint64_t placeholder = 0;
    write(&placeholder, sizeof placeholder);
    add_section("tokens", std::as_bytes(tokens));
}

KvSnapshotWriter::~KvSnapshotWriter() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    if (!committed_) {
        std::error_code ignored;
        std::filesystem::remove(temp_, ignored);
    }
}

void KvSnapshotWriter::write(const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd_, p, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw KvSnapshotError("writing " + temp_.string() + " failed: " + errno_text());
        }
        p += n;
        size -= static_cast<std::size_t>(n);
        written_ += static_cast<std::uint64_t>(n);
    }
}

void KvSnapshotWriter::add_section(std::string_view name, std::span<const std::byte> bytes) {
    const auto name_size = static_cast<std::uint32_t>(name.size());
    const auto size = static_cast<std::uint64_t>(bytes.size());
    const std::uint64_t checksum = XXH3_64bits(bytes.data(), bytes.size());
    write(&name_size, sizeof name_size);
    write(name.data(), name.size());
    write(&size, sizeof size);
    write(&checksum, sizeof checksum);
    write(bytes.data(), bytes.size());
    checksums_.push_back(checksum);
    ++sections_;
}

std::uint64_t KvSnapshotWriter::commit() {
    const std::uint64_t trailer =
        XXH3_64bits(checksums_.data(), checksums_.size() * sizeof(std::uint64_t));
    write(kEnd, sizeof kEnd);
    write(&trailer, sizeof trailer);
    // Patch the section count into the header, then write the header's checksum after it.
    std::memcpy(header_.data() + count_offset_, &sections_, sizeof sections_);
    const std::uint64_t header_sum = XXH3_64bits(header_.data(), header_.size());
    if (::pwrite(fd_, header_.data(), header_.size(), 0) != static_cast<ssize_t>(header_.size()) ||
        ::pwrite(fd_, &header_sum, sizeof header_sum, static_cast<off_t>(header_.size())) !=
            static_cast<ssize_t>(sizeof header_sum)) {
        throw KvSnapshotError("writing " + temp_.string() + " failed: " + errno_text());
    }
    if (::fsync(fd_) != 0) {
        throw KvSnapshotError("fsync of " + temp_.string() + " failed: " + errno_text());
    }
    ::close(fd_);
    fd_ = -1;
    std::error_code ec;
    std::filesystem::rename(temp_, path_, ec);
    if (ec) {
        throw KvSnapshotError("cannot move " + temp_.string() + " to " + path_.string() + ": " +
                              ec.message());
    }
    committed_ = true;
    fsync_dir(path_.parent_path().empty() ? "." : path_.parent_path());
    return written_;
}

const KvSnapshotSection* KvSnapshot::find(std::string_view name) const {
    for (const auto& s : sections) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

KvSnapshotView KvSnapshotView::open(const std::filesystem::path& path,
                                    std::string_view expected_fingerprint) {
    KvSnapshotView view;
    {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            throw KvSnapshotError("cannot open KV snapshot " + path.string() + ": " + errno_text());
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const std::string why = errno_text();
            ::close(fd);
            throw KvSnapshotError("cannot open KV snapshot " + path.string() + ": " + why);
        }
        view.size_ = static_cast<std::uint64_t>(st.st_size);
        if (view.size_ > 0) {
            void* p = ::mmap(nullptr, view.size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                const std::string why = errno_text();
                ::close(fd);
                throw KvSnapshotError("cannot map KV snapshot " + path.string() + ": " + why);
            }
            view.map_ = p;
            ::madvise(p, view.size_, MADV_SEQUENTIAL);
        }
        ::close(fd);  // the mapping stays valid
    }
    static const char kEmpty = 0;
    Reader in(path, view.map_ != nullptr ? static_cast<const char*>(view.map_) : &kEmpty,
              static_cast<std::size_t>(view.size_));
    const std::string where = "KV snapshot " + path.string();
    if (std::memcmp(in.take(sizeof kMagic, "the magic"), kMagic, sizeof kMagic) != 0) {
        throw KvSnapshotError(where + " is not an Osprey KV snapshot (bad magic)");
    }
    view.version_ = in.read<std::uint32_t>("the version");
    if (view.version_ > kKvSnapshotVersion) {
        throw KvSnapshotError(where + " has format version " + std::to_string(view.version_) +
                              ", written by a newer Osprey (this build reads up to " +
                              std::to_string(kKvSnapshotVersion) + ")");
    }
    if (view.version_ == 0) {
        throw KvSnapshotError(where + " has format version 0 (never valid)");
    }
    const auto section_count = in.read<std::uint32_t>("the section count");
    const auto token_count = in.read<std::uint64_t>("the token count");
    const auto fp_size = in.read<std::uint32_t>("the fingerprint length");
    view.fingerprint_.assign(in.take(fp_size, "the fingerprint"), fp_size);
    const std::size_t header_size = in.pos();
    const auto header_sum = in.read<std::uint64_t>("the header checksum");
    if (XXH3_64bits(in.at(0), header_size) != header_sum) {
        throw KvSnapshotError(where + " is corrupted (header checksum mismatch)");
    }
    if (!expected_fingerprint.empty() && view.fingerprint_ != expected_fingerprint) {
        throw KvSnapshotError(where + " was made for model '" + view.fingerprint_ +
                              "', not the loaded model '" + std::string(expected_fingerprint) +
                              "'");
    }
    std::vector<std::uint64_t> checksums;
    for (std::uint32_t i = 0; i < section_count; ++i) {
        const auto name_size = in.read<std::uint32_t>("a section name length");
        std::string name(in.take(name_size, "a section name"), name_size);
        const auto size = in.read<std::uint64_t>("a section size");
        const auto sum = in.read<std::uint64_t>("a section checksum");
        const char* bytes = in.take(size, ("section '" + name + "'").c_str());
        if (XXH3_64bits(bytes, size) != sum) {
            throw KvSnapshotError(where + " is corrupted (section '" + name +
                                  "' checksum mismatch)");
        }
        checksums.push_back(sum);
        if (i == 0) {
            if (name != "tokens" || size != token_count * sizeof(std::int32_t)) {
                throw KvSnapshotError(where + " is corrupted (the first section is not the " +
                                      std::to_string(token_count) + " token ids)");
            }
            view.tokens_.resize(token_count);
            if (size > 0) {  // memcpy to an empty vector's null data() is undefined
                std::memcpy(view.tokens_.data(), bytes, size);
            }
            continue;
        }
        view.sections_.push_back(
            {std::move(name),
             std::span<const std::byte>(reinterpret_cast<const std::byte*>(bytes), size)});
    }
    if (std::memcmp(in.take(sizeof kEnd, "the trailer"), kEnd, sizeof kEnd) != 0) {
        throw KvSnapshotError(where + " is corrupted (bad trailer)");
    }
    const auto trailer = in.read<std::uint64_t>("the trailer checksum");
    if (XXH3_64bits(checksums.data(), checksums.size() * sizeof(std::uint64_t)) != trailer) {
        throw KvSnapshotError(where + " is corrupted (trailer checksum mismatch)");
    }
    if (in.pos() != in.size()) {
        throw KvSnapshotError(where + " has " + std::to_string(in.size() - in.pos()) +
                              " unexpected bytes after its end");
    }
    return view;
}

KvSnapshotView::KvSnapshotView(KvSnapshotView&& other) noexcept
    : map_(std::exchange(other.map_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      version_(other.version_),
      fingerprint_(std::move(other.fingerprint_)),
      tokens_(std::move(other.tokens_)),
      sections_(std::move(other.sections_)) {}

KvSnapshotView& KvSnapshotView::operator=(KvSnapshotView&& other) noexcept {
    if (this != &other) {
        unmap();
        map_ = std::exchange(other.map_, nullptr);
        size_ = std::exchange(other.size_, 0);
        version_ = other.version_;
        fingerprint_ = std::move(other.fingerprint_);
        tokens_ = std::move(other.tokens_);
        sections_ = std::move(other.sections_);
    }
    return *this;
}

KvSnapshotView::~KvSnapshotView() {
    unmap();
}

void KvSnapshotView::unmap() {
    if (map_ != nullptr) {
        ::munmap(map_, size_);
        map_ = nullptr;
    }
}

std::optional<std::span<const std::byte>> KvSnapshotView::find(std::string_view name) const {
    for (const auto& s : sections_) {
        if (s.name == name) {
            return s.bytes;
        }
    }
    return std::nullopt;
}

KvSnapshot read_kv_snapshot(const std::filesystem::path& path,
                            std::string_view expected_fingerprint) {
    const KvSnapshotView view = KvSnapshotView::open(path, expected_fingerprint);
    KvSnapshot snap;
    snap.version = view.version();
    snap.model_fingerprint = view.model_fingerprint();
    snap.tokens = view.tokens();
    snap.sections.reserve(view.sections().size());
    for (const auto& s : view.sections()) {
        snap.sections.push_back({s.name, std::vector<std::byte>(s.bytes.begin(), s.bytes.end())});
    }
    return snap;
}

}  // namespace osprey::memory
