#include "model/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace osprey::model {
namespace {

using nlohmann::json;

bool parse_dtype(const std::string& s, DType& out) {
    static const std::pair<const char*, DType> kNames[] = {
        {"BF16", DType::bf16},       {"F32", DType::f32}, {"F8_E4M3", DType::f8_e4m3},
        {"F8_E8M0", DType::f8_e8m0}, {"I8", DType::i8},   {"I64", DType::i64}};
    for (const auto& [name, dt] : kNames) {
        if (s == name) {
            out = dt;
            return true;
        }
    }
    return false;
}

[[noreturn]] void fail(const std::string& file, const std::string& what) {
    throw CheckpointError(file + ": " + what);
}

}  // namespace

std::string_view to_string(DType dtype) {
    switch (dtype) {
        case DType::bf16:
            return "BF16";
        case DType::f32:
            return "F32";
        case DType::f8_e4m3:
            return "F8_E4M3";
        case DType::f8_e8m0:
            return "F8_E8M0";
        case DType::i8:
            return "I8";
        case DType::i64:
            return "I64";
    }
    return "?";
}

std::size_t element_size(DType dtype) {
    switch (dtype) {
        case DType::bf16:
            return 2;
        case DType::f32:
            return 4;
        case DType::f8_e4m3:
        case DType::f8_e8m0:
        case DType::i8:
            return 1;
        case DType::i64:
            return 8;
    }
    return 1;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        s += (i ? ", " : "") + std::to_string(shape[i]);
    }
    return s + "]";
}

std::int64_t TensorInfo::numel() const {
    std::int64_t n = 1;
    for (auto d : shape) {
        n *= d;
    }
    return n;
}

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw CheckpointError(path.string() + ": cannot open: " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw CheckpointError(path.string() + ": cannot stat: " + std::strerror(err));
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw CheckpointError(path.string() + ": cannot map: " + std::strerror(err));
        }
        data_ = static_cast<const std::uint8_t*>(p);
    }
    ::close(fd);
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) {
        ::munmap(const_cast<std::uint8_t*>(data_), size_);
    }
}

std::shared_ptr<const Checkpoint> Checkpoint::open(const std::filesystem::path& dir) {
    std::shared_ptr<Checkpoint> ckpt(new Checkpoint());
    ckpt->dir_ = dir;
    const auto index_path = dir / "model.safetensors.index.json";
    if (!std::filesystem::exists(index_path)) {
        if (std::filesystem::exists(dir / "model.safetensors")) {
            ckpt->add_shard("model.safetensors", nullptr);
            return ckpt;
        }
        throw CheckpointError(index_path.string() +
                              ": not found (and no model.safetensors): not a checkpoint folder");
    }
    std::ifstream in(index_path, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    json index;
    try {
        index = json::parse(buf.str());
    } catch (const json::parse_error& e) {
        fail(index_path.filename().string(), std::string("not valid JSON: ") + e.what());
    }
    const std::string index_name = index_path.filename().string();
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
        fail(index_name, "has no \"weight_map\" object");
    }
    std::map<std::string, std::vector<std::string>> by_file;
    for (const auto& [name, file] : index["weight_map"].items()) {
        if (!file.is_string()) {
            fail(index_name, "weight_map entry for tensor '" + name + "' is not a file name");
        }
        const std::string f = file.get<std::string>();
        if (f.find('/') != std::string::npos || f == ".." || f.empty()) {
            fail(index_name, "weight_map entry for tensor '" + name + "' names a file outside " +
                                 "the folder: '" + f + "'");
        }
        by_file[f].push_back(name);
    }
    for (const auto& [file, names] : by_file) {
        if (!std::filesystem::exists(dir / file)) {
            fail(file,
                 "missing shard (listed in " + index_name + " for tensor '" + names.front() + "')");
        }
        ckpt->add_shard(file, &names);
    }
    if (index.contains("metadata") && index["metadata"].is_object() &&
        index["metadata"].contains("total_size") && index["metadata"]["total_size"].is_number()) {
        const auto total = index["metadata"]["total_size"].get<std::uint64_t>();
        if (total != ckpt->data_bytes()) {
            fail(index_name, "metadata.total_size is " + std::to_string(total) +
                                 " but the shards hold " + std::to_string(ckpt->data_bytes()) +
                                 " bytes of tensors");
        }
    }
    return ckpt;
}

void Checkpoint::add_shard(const std::string& file, const std::vector<std::string>* expected) {
    auto mapped = std::make_unique<MappedFile>(dir_ / file);
    const std::size_t size = mapped->size();
    if (size < 8) {
        fail(file, "truncated: " + std::to_string(size) + " bytes, shorter than the header length");
    }
    std::uint64_t header_len = 0;
    std::memcpy(&header_len, mapped->data(), 8);
    if (header_len > size - 8) {
        fail(file, "truncated: header says " + std::to_string(header_len) +
                       " header bytes but the file has " + std::to_string(size - 8) +
                       " after the length field");
    }
    json header;
    try {
        header = json::parse(mapped->data() + 8, mapped->data() + 8 + header_len);
    } catch (const json::parse_error& e) {
        fail(file, std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) {
        fail(file, "header is not a JSON object");
    }
    const std::size_t data_start = 8 + header_len;
    const std::size_t data_size = size - data_start;
    std::set<std::string> seen;
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            continue;
        }
        const std::string where = "tensor '" + name + "'";
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
            !entry.contains("data_offsets")) {
            fail(file, where + ": header entry needs dtype, shape and data_offsets");
        }
        TensorInfo t;
        t.name = name;
        t.file = file;
        if (!entry["dtype"].is_string() ||
            !parse_dtype(entry["dtype"].get<std::string>(), t.dtype)) {
            fail(file, where + ": unsupported dtype " + entry["dtype"].dump() +
                           " (expected BF16, F32, F8_E4M3, F8_E8M0, I8 or I64)");
        }
        if (!entry["shape"].is_array()) {
            fail(file, where + ": shape is not an array");
        }
        for (const auto& d : entry["shape"]) {
            if (!d.is_number_integer() || d.get<std::int64_t>() < 0) {
                fail(file, where + ": bad shape " + entry["shape"].dump());
            }
            t.shape.push_back(d.get<std::int64_t>());
        }
        const auto& off = entry["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
            !off[1].is_number_unsigned()) {
            fail(file, where + ": data_offsets must be two non-negative integers");
        }
        const auto b = off[0].get<std::uint64_t>();
        const auto e = off[1].get<std::uint64_t>();
        const std::uint64_t want = static_cast<std::uint64_t>(t.numel()) * element_size(t.dtype);
        if (e < b || e - b != want) {
            fail(file, where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                           "] hold " + std::to_string(e >= b ? e - b : 0) + " bytes but " +
                           std::string(to_string(t.dtype)) + " " + shape_string(t.shape) +
                           " needs " + std::to_string(want));
        }
        if (e > data_size) {
            fail(file, "truncated: " + where + " ends at data byte " + std::to_string(e) +
                           " but the file has only " + std::to_string(data_size) + " data bytes");
        }
        t.data = mapped->data() + data_start + b;
        t.bytes = static_cast<std::size_t>(want);
        ranges.emplace_back(b, e);
        if (tensors_.count(name) != 0) {
            fail(file, where + " also appears in " + tensors_.find(name)->second.file);
        }
        if (expected != nullptr &&
            std::find(expected->begin(), expected->end(), name) == expected->end()) {
            fail(file, where + " is not listed for this file in model.safetensors.index.json");
        }
        seen.insert(name);
        tensors_.emplace(name, std::move(t));
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i) {
        if (ranges[i].first < ranges[i - 1].second) {
            fail(file, "tensor data ranges overlap in the header");
        }
    }
    if (expected != nullptr) {
        for (const auto& name : *expected) {
            if (seen.count(name) == 0) {
                fail(file, "missing tensor '" + name + "' (model.safetensors.index.json puts it " +
                               "in this file)");
            }
        }
    }
    shards_.push_back(std::move(mapped));
    shard_names_.push_back(file);
}

const TensorInfo* Checkpoint::find(std::string_view name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

const TensorInfo& Checkpoint::get(std::string_view name) const {
    const TensorInfo* t = find(name);
    if (t == nullptr) {
        throw CheckpointError(dir_.string() + ": missing tensor '" + std::string(name) + "'");
    }
    return *t;
}

std::size_t Checkpoint::data_bytes() const {
    std::size_t total = 0;
    for (const auto& [name, t] : tensors_) {
        total += t.bytes;
    }
    return total;
}

}  // namespace osprey::model
