#pragma once
// NumPy .npy files (format 1.0/2.0, little-endian, C order) for float32 and int32 arrays: the
// golden data and the `osprey model logits` contract use them.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace osprey::model {

class NpyError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

template <typename T>
struct NpyArray {
    std::vector<std::int64_t> shape;
    std::vector<T> data;
};

// Reads '<f4' (also accepts '<f8', converted). Throws NpyError naming the file.
NpyArray<float> read_npy_f32(const std::filesystem::path& path);
// Reads '<i4' (also '<i8' and '|i1'/'<i2' within range). Throws NpyError naming the file.
NpyArray<std::int32_t> read_npy_i32(const std::filesystem::path& path);

void write_npy_f32(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
                   const float* data);
void write_npy_i32(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
                   const std::int32_t* data);

}  // namespace osprey::model
