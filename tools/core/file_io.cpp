#include "tools/core/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "tools/core/tool_error.hpp"

namespace osprey::tools {
namespace fs = std::filesystem;

namespace {

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0)
            ::close(fd);
    }
};

std::string errno_text() {
    return std::strerror(errno);
}

}  // namespace

std::string read_file(const fs::path& path) {
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) {
        throw ToolError("cannot open " + path.string() + ": " + errno_text());
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) {
        throw ToolError("cannot stat " + path.string() + ": " + errno_text());
    }
    if (S_ISDIR(st.st_mode)) {
        throw ToolError(path.string() + " is a directory");
    }
    std::string data;
    data.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    for (;;) {
        if (got == data.size())
            data.resize(data.size() + 65536);
        const ssize_t n = ::read(f.fd, data.data() + got, data.size() - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw ToolError("cannot read " + path.string() + ": " + errno_text());
        }
        if (n == 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    return data;
}

void write_file_atomic(const fs::path& path, std::string_view content) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
        throw ToolError("cannot create folder " + path.parent_path().string() + ": " +
                        ec.message());
    }
    struct stat old {};
    const bool existed = ::stat(path.c_str(), &old) == 0;
    if (existed && S_ISDIR(old.st_mode)) {
        throw ToolError(path.string() + " is a directory");
    }
    std::random_device rd;
    fs::path temp;
    Fd f;
    // An unnamed file (O_TMPFILE) gets a name only once its contents are flushed, so a process
    // killed mid-write leaves no stray temp file behind; the named temp file is the fallback for
    // file systems without it.
    const std::string folder = path.parent_path().empty() ? "." : path.parent_path().string();
    f.fd = ::open(folder.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    const bool unnamed = f.fd >= 0;  // created with 0666 less the umask, like a new file
    for (int attempt = 0; attempt < 16 && f.fd < 0; ++attempt) {
        std::string name = ".";
        name += path.filename().string();
        name += ".osprey-";
        name += std::to_string(rd());
        name += ".tmp";
        temp = path.parent_path() / name;
        f.fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f.fd < 0 && errno != EEXIST)
            break;
    }
    if (f.fd < 0) {
        throw ToolError("cannot create a temporary file beside " + path.string() + ": " +
                        errno_text());
    }
    auto fail = [&](const std::string& what) {
        const std::string message = what + " " + path.string() + ": " + errno_text();
        if (!temp.empty()) {
            ::unlink(temp.c_str());
        }
        throw ToolError(message);
    };
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(f.fd, content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("cannot write");
        }
        done += static_cast<std::size_t>(n);
    }
    if (existed && ::fchmod(f.fd, old.st_mode & 07777) != 0)
        fail("cannot keep the mode of");
    if (::fsync(f.fd) != 0)
        fail("cannot flush");
    if (unnamed) {
        const std::string self = "/proc/self/fd/" + std::to_string(f.fd);
        if (!existed &&
            ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) {
            return;  // a new file appears whole, in one step
        }
        for (int attempt = 0; attempt < 16; ++attempt) {
            temp = path.parent_path() /
                   ("." + path.filename().string() + ".osprey-" + std::to_string(rd()) + ".tmp");
            if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, temp.c_str(), AT_SYMLINK_FOLLOW) == 0) {
                break;
            }
            if (errno != EEXIST) {
                temp.clear();
                fail("cannot name the new contents of");
            }
        }
    }
    ::close(f.fd);
    f.fd = -1;
    if (::rename(temp.c_str(), path.c_str()) != 0)
        fail("cannot replace");
}

bool looks_binary(std::string_view content) {
    return content.substr(0, 8192).find('\0') != std::string_view::npos;
}

std::size_t first_invalid_utf8(std::string_view text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned int cp = 0;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + len > n)
            return i;
        for (std::size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        // Overlong forms, surrogates, beyond U+10FFFF.
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            return i;
        }
        i += len;
    }
    return std::string_view::npos;
}

}  // namespace osprey::tools
