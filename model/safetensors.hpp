#pragma once
// The checkpoint reader: safetensors shards found through `model.safetensors.index.json` (or a
// single `model.safetensors`), memory-mapped read-only, zero copy. Every header is validated
// against its file's size (offsets, sizes, dtypes) and every shard against the index before any
// tensor is handed out; problems throw CheckpointError naming the file and tensor.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/errors.hpp"

namespace osprey::model {

enum class DType { bf16, f32, f8_e4m3, f8_e8m0, i8, i64 };

std::string_view to_string(DType dtype);
std::size_t element_size(DType dtype);

// A read-only mapping of a whole file (RAII).
class MappedFile {
public:
    explicit MappedFile(const std::filesystem::path& path);
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

struct TensorInfo {
    std::string name;
    DType dtype = DType::f32;
    std::vector<std::int64_t> shape;
    const std::uint8_t* data = nullptr;  // inside the shard's mapping
    std::size_t bytes = 0;
    std::string file;  // shard file name (no directory)

    std::int64_t numel() const;
};

std::string shape_string(const std::vector<std::int64_t>& shape);

class Checkpoint {
public:
    // Opens DIR: through the index when present, else DIR/model.safetensors.
    static std::shared_ptr<const Checkpoint> open(const std::filesystem::path& dir);

    const std::filesystem::path& dir() const { return dir_; }
    const TensorInfo* find(std::string_view name) const;
    // Throws CheckpointError "missing tensor NAME".
    const TensorInfo& get(std::string_view name) const;
    const std::map<std::string, TensorInfo, std::less<>>& tensors() const { return tensors_; }
    const std::vector<std::string>& shard_files() const { return shard_names_; }
    // Total bytes of tensor data over all shards.
    std::size_t data_bytes() const;

private:
    Checkpoint() = default;
    void add_shard(const std::string& file, const std::vector<std::string>* expected_names);

    std::filesystem::path dir_;
    std::vector<std::unique_ptr<MappedFile>> shards_;
    std::vector<std::string> shard_names_;
    std::map<std::string, TensorInfo, std::less<>> tensors_;
};

}  // namespace osprey::model
