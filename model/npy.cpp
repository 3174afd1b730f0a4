#include "model/npy.hpp"

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace osprey::model {
namespace {

struct Header {
    std::string descr;
    bool fortran = false;
    std::vector<std::int64_t> shape;
    std::size_t data_offset = 0;
};

std::string read_all(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw NpyError(path.string() + ": cannot read");
    }
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
}

Header parse_header(const std::string& bytes, const std::filesystem::path& path) {
    const std::string where = path.string() + ": ";
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
        throw NpyError(where + "not a .npy file (bad magic)");
    }
    const auto major = static_cast<unsigned char>(bytes[6]);
    std::size_t len = 0;
    std::size_t start = 0;
    if (major == 1) {
        len = static_cast<unsigned char>(bytes[8]) |
              (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
        start = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) {
            throw NpyError(where + "truncated header");
        }
        std::uint32_t l;
        std::memcpy(&l, bytes.data() + 8, 4);
        len = l;
        start = 12;
    } else {
        throw NpyError(where + "unsupported .npy version " + std::to_string(major));
    }
    if (start + len > bytes.size()) {
        throw NpyError(where + "truncated header");
    }
    const std::string h = bytes.substr(start, len);
    Header out;
    out.data_offset = start + len;
    std::smatch m;
    if (!std::regex_search(h, m, std::regex("'descr':\\s*'([^']*)'"))) {
        throw NpyError(where + "header has no descr");
    }
    out.descr = m[1];
    out.fortran = std::regex_search(h, std::regex("'fortran_order':\\s*True"));
    if (!std::regex_search(h, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) {
        throw NpyError(where + "header has no shape");
    }
    std::string dims = m[1];
    std::stringstream ds(dims);
    std::string item;
    while (std::getline(ds, item, ',')) {
        const auto b = item.find_first_not_of(" ");
        if (b == std::string::npos) {
            continue;
        }
        out.shape.push_back(std::stoll(item.substr(b)));
    }
    if (out.fortran) {
        throw NpyError(where + "Fortran-ordered arrays are not supported");
    }
    return out;
}

std::int64_t count(const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1;
    for (auto d : shape) {
        n *= d;
    }
    return n;
}

template <typename Src, typename Dst>
std::vector<Dst> convert(const std::string& bytes, std::size_t offset, std::int64_t n,
                         const std::filesystem::path& path) {
    if (bytes.size() < offset + static_cast<std::size_t>(n) * sizeof(Src)) {
        throw NpyError(path.string() + ": truncated data (" + std::to_string(n) +
                       " elements expected)");
    }
    std::vector<Dst> out(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        Src v;
        std::memcpy(&v, bytes.data() + offset + static_cast<std::size_t>(i) * sizeof(Src),
                    sizeof(Src));
        out[static_cast<std::size_t>(i)] = static_cast<Dst>(v);
    }
    return out;
}

void write(const std::filesystem::path& path, const char* descr,
           const std::vector<std::int64_t>& shape, const void* data, std::size_t bytes) {
    std::string dims;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        dims += std::to_string(shape[i]) +
                (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
    }
    std::string h = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" +
                    dims + "), }";
    const std::size_t total = 10 + h.size() + 1;
    h.append((64 - total % 64) % 64, ' ');
    h += '\n';
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) {
        throw NpyError(path.string() + ": cannot write");
    }
    out.write("\x93NUMPY\x01\x00", 8);
    const auto len = static_cast<std::uint16_t>(h.size());
    const char lb[2] = {static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
    out.write(lb, 2);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    if (!out) {
        throw NpyError(path.string() + ": write failed");
    }
}

}  // namespace

NpyArray<float> read_npy_f32(const std::filesystem::path& path) {
    const std::string bytes = read_all(path);
    const Header h = parse_header(bytes, path);
    NpyArray<float> a;
    a.shape = h.shape;
    const std::int64_t n = count(h.shape);
    if (h.descr == "<f4") {
        a.data = convert<float, float>(bytes, h.data_offset, n, path);
    } else if (h.descr == "<f8") {
        a.data = convert<double, float>(bytes, h.data_offset, n, path);
    } else {
        throw NpyError(path.string() + ": dtype '" + h.descr + "' is not float32");
    }
    return a;
}

NpyArray<std::int32_t> read_npy_i32(const std::filesystem::path& path) {
    const std::string bytes = read_all(path);
    const Header h = parse_header(bytes, path);
    NpyArray<std::int32_t> a;
    a.shape = h.shape;
    const std::int64_t n = count(h.shape);
    if (h.descr == "<i4") {
        a.data = convert<std::int32_t, std::int32_t>(bytes, h.data_offset, n, path);
    } else if (h.descr == "<i8") {
        auto wide = convert<std::int64_t, std::int64_t>(bytes, h.data_offset, n, path);
        a.data.resize(wide.size());
        for (std::size_t i = 0; i < wide.size(); ++i) {
            if (wide[i] < INT32_MIN || wide[i] > INT32_MAX) {
                throw NpyError(path.string() + ": value " + std::to_string(wide[i]) +
                               " does not fit int32");
            }
            a.data[i] = static_cast<std::int32_t>(wide[i]);
        }
    } else if (h.descr == "<i2") {
        a.data = convert<std::int16_t, std::int32_t>(bytes, h.data_offset, n, path);
    } else if (h.descr == "|i1") {
        a.data = convert<std::int8_t, std::int32_t>(bytes, h.data_offset, n, path);
    } else {
        throw NpyError(path.string() + ": dtype '" + h.descr + "' is not an integer type");
    }
    return a;
}

void write_npy_f32(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
                   const float* data) {
    write(path, "<f4", shape, data, static_cast<std::size_t>(count(shape)) * 4);
}

void write_npy_i32(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
                   const std::int32_t* data) {
    write(path, "<i4", shape, data, static_cast<std::size_t>(count(shape)) * 4);
}

}  // namespace osprey::model
